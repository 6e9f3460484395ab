package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/enclave"
)

type keygenOptions struct {
	outDir string
	key    string
	fsKey  string
	pub    string
	force  bool
}

// keyExistsError: keygen refuses to overwrite a key file without --force.
type keyExistsError struct{ path string }

func (e *keyExistsError) Error() string { return fmt.Sprintf("writing key %q: file exists", e.path) }
func (e *keyExistsError) Unwrap() error { return fs.ErrExist }

func init() {
	register(func(a *app) *cobra.Command {
		var o keygenOptions
		cmd := &cobra.Command{
			Use:   "keygen",
			Short: "Create an enclave signer key (RSA-3072, e = 3) and a file-system key",
			Long: `Create the two keys a conversion needs:

  signer key  RSA-3072 with public exponent 3 (SGX requires both), PEM PKCS#8,
              mode 0600; its public half goes next to it as PEM (mode 0644).
              MRSIGNER, the signer identity, is printed.
  FS key      32 random bytes as 64 hex digits and a newline, mode 0600. It
              encrypts the protected file system and never goes into an image.

Existing files are not overwritten unless --force is given.`,
			Example: `  scone-build keygen --out-dir keys
  scone-build keygen --key signer.pem --fs-key fs.key`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error { return runKeygen(a, &o) },
		}
		f := cmd.Flags()
		f.StringVar(&o.outDir, "out-dir", ".", "directory for signer.pem, signer.pub and fs.key")
		f.StringVar(&o.key, "key", "", "signer key file (default OUT-DIR/signer.pem)")
		f.StringVar(&o.fsKey, "fs-key", "", "FS key file (default OUT-DIR/fs.key)")
		f.StringVar(&o.pub, "pub", "", "signer public key file (default: the key file with extension .pub)")
		f.BoolVar(&o.force, "force", false, "overwrite existing files")
		return cmd
	})
	registerHints(keygenHints)
}

func runKeygen(a *app, o *keygenOptions) error {
	if o.key == "" {
		o.key = filepath.Join(o.outDir, "signer.pem")
	}
	if o.fsKey == "" {
		o.fsKey = filepath.Join(o.outDir, "fs.key")
	}
	if o.pub == "" {
		o.pub = strings.TrimSuffix(o.key, filepath.Ext(o.key)) + ".pub"
	}
	if o.key == o.fsKey || o.key == o.pub || o.fsKey == o.pub {
		return usagef("--key, --fs-key and --pub must be different files")
	}
	// Check everything before writing anything, so a refusal leaves no half set.
	if !o.force {
		for _, p := range []string{o.key, o.fsKey, o.pub} {
			if _, err := os.Lstat(p); err == nil {
				return &keyExistsError{path: p}
			}
		}
	}
	if err := os.MkdirAll(o.outDir, 0o700); err != nil {
		return fmt.Errorf("creating key directory %q: %w", o.outDir, err)
	}
	k, err := enclave.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	keyPEM, err := enclave.MarshalPrivateKeyPEM(k)
	if err != nil {
		return err
	}
	pubPEM, err := enclave.MarshalPublicKeyPEM(&k.PublicKey)
	if err != nil {
		return err
	}
	fsk, err := enclave.GenerateFSKey(rand.Reader)
	if err != nil {
		return err
	}
	fsFile, err := enclave.EncodeFSKey(fsk)
	if err != nil {
		return err
	}
	mrs, err := enclave.MRSIGNER(&k.PublicKey)
	if err != nil {
		return err
	}
	for _, w := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{o.key, keyPEM, 0o600}, {o.fsKey, fsFile, 0o600}, {o.pub, pubPEM, 0o644}} {
		if err := enclave.WriteKeyFile(w.path, w.data, o.force); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return &keyExistsError{path: w.path}
			}
			return err
		}
		if w.mode != 0o600 {
			if err := os.Chmod(w.path, w.mode); err != nil {
				return fmt.Errorf("setting mode of %q: %w", w.path, err)
			}
		}
	}
	_, err = fmt.Fprintf(a.stdout, "signer key  %s\npublic key  %s\nFS key      %s\nMRSIGNER    %s\n",
		o.key, o.pub, o.fsKey, hex.EncodeToString(mrs[:]))
	return err
}

func keygenHints(err error) (int, string, bool) {
	var ke *keyExistsError
	var ce *enclave.ConfigError
	switch {
	case errors.As(err, &ke):
		return exitIO, "the key file exists; pass --force to replace it (the old key is lost)", true
	case errors.Is(err, enclave.ErrSignCommand):
		return exitKey, "the --sign-cmd program must read the 256 bytes to sign on stdin and print the 384-byte signature (raw, base64 or hex) on stdout", true
	case errors.Is(err, enclave.ErrSignature):
		return exitVerification, "the signature does not match the data or the signer's public key: check --signer-pub and what was signed", true
	case errors.As(err, &ce), errors.Is(err, enclave.ErrConfigVersion):
		return exitBadInput, "the enclave configuration is invalid: check the flags and the image's entrypoint, env and user", true
	case errors.Is(err, enclave.ErrBadELF):
		return exitInternal, "the embedded runtime binary is unusable: rebuild scone-build with 'make build'", true
	case errors.Is(err, enclave.ErrLayoutSize):
		return exitBadInput, "heap, stack and thread settings make the enclave too large (64 GiB at most)", true
	}
	return 0, "", false
}
