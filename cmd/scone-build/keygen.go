package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
)

type keygenOptions struct {
	outDir    string
	key       string
	fsKey     string
	pub       string
	signerPub string
	force     bool
	identityFlags
}

// keyExistsError: keygen refuses to overwrite a key file without --force.
type keyExistsError struct{ path string }

func (e *keyExistsError) Error() string { return fmt.Sprintf("writing key %q: file exists", e.path) }
func (e *keyExistsError) Unwrap() error { return fs.ErrExist }

func newKeygenCmd(a *app) *cobra.Command {
	var o keygenOptions
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Create an enclave signer key (RSA-3072, e = 3) and a file-system key bound to it",
		Long: `Create the two keys a conversion needs:

  signer key  RSA-3072 with public exponent 3 (SGX requires both), PEM PKCS#8,
              mode 0600; its public half goes next to it as PEM (mode 0644).
              MRSIGNER, the signer identity, is printed.
  FS key      a key file (docs/keys.md), mode 0600: 32 random bytes and the
              enclave identity they belong to (the signer's MRSIGNER, and
              what --mrenclave, --isv-prodid and --min-isvsvn add). The
              runtime gives the key only to an enclave with that identity, so
              an image re-signed by someone else cannot read the files. The
              key never goes into an image.

With --signer-pub, the signer key already exists (in a KMS or HSM, say): only
the FS key is made, bound to that public key's MRSIGNER.

Existing files are not overwritten unless --force is given.`,
		Example: `  scone-build keygen --out-dir keys
  scone-build keygen --key signer.pem --fs-key fs.key --min-isvsvn 2
  scone-build keygen --signer-pub kms-signer.pub --fs-key fs.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runKeygen(a, &o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.outDir, "out-dir", ".", "directory for signer.pem, signer.pub and fs.key")
	f.StringVar(&o.key, "key", "", "signer key file (default OUT-DIR/signer.pem)")
	f.StringVar(&o.fsKey, "fs-key", "", "FS key file (default OUT-DIR/fs.key)")
	f.StringVar(&o.pub, "pub", "", "signer public key file (default: the key file with extension .pub)")
	f.StringVar(&o.signerPub, "signer-pub", "", "bind the FS key to this existing signer's public key (PEM) and make no signer key")
	f.BoolVar(&o.force, "force", false, "overwrite existing files")
	o.identityFlags.register(f, false)
	return cmd
}

func runKeygen(a *app, o *keygenOptions) error {
	if o.fsKey == "" {
		o.fsKey = filepath.Join(o.outDir, "fs.key")
	}
	var files []string
	if o.signerPub == "" {
		if o.key == "" {
			o.key = filepath.Join(o.outDir, "signer.pem")
		}
		if o.pub == "" {
			o.pub = strings.TrimSuffix(o.key, filepath.Ext(o.key)) + ".pub"
		}
		if o.key == o.fsKey || o.key == o.pub || o.fsKey == o.pub {
			return usagef("--key, --fs-key and --pub must be different files")
		}
		files = []string{o.key, o.fsKey, o.pub}
	} else {
		if o.key != "" || o.pub != "" {
			return usagef("--signer-pub makes only the FS key: it excludes --key and --pub")
		}
		files = []string{o.fsKey}
	}
	id, err := o.identityFlags.identity()
	if err != nil {
		return err
	}
	// Check everything before writing anything, so a refusal leaves no half set.
	if !o.force {
		for _, p := range files {
			if _, err := os.Lstat(p); err == nil {
				return &keyExistsError{path: p}
			}
		}
	}
	var signer *rsa.PrivateKey
	var pub *rsa.PublicKey
	if o.signerPub != "" {
		if pub, err = enclave.LoadPublicKey(o.signerPub); err != nil {
			return keyFileError{"--signer-pub", err}
		}
	} else {
		if signer, err = enclave.GenerateKey(rand.Reader); err != nil {
			return err
		}
		pub = &signer.PublicKey
	}
	mrs, err := enclave.MRSIGNER(pub)
	if err != nil {
		return err
	}
	id.MRSIGNER = &mrs
	k, err := fskey.Generate(rand.Reader)
	if err != nil {
		return err
	}
	fsFile, err := (&fskey.File{Key: k, Identity: id}).Marshal()
	if err != nil {
		return err
	}
	type out struct {
		path string
		data []byte
		mode os.FileMode
	}
	outs := []out{{o.fsKey, fsFile, 0o600}}
	if signer != nil {
		keyPEM, err := enclave.MarshalPrivateKeyPEM(signer)
		if err != nil {
			return err
		}
		pubPEM, err := enclave.MarshalPublicKeyPEM(pub)
		if err != nil {
			return err
		}
		outs = []out{{o.key, keyPEM, 0o600}, {o.fsKey, fsFile, 0o600}, {o.pub, pubPEM, 0o644}}
	}
	for _, w := range outs {
		if err := os.MkdirAll(filepath.Dir(w.path), 0o700); err != nil {
			return fmt.Errorf("creating key directory %q: %w", filepath.Dir(w.path), err)
		}
		if err := fskey.WriteSecret(w.path, w.data, o.force); err != nil {
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
	if signer != nil {
		fmt.Fprintf(a.stdout, "signer key  %s\npublic key  %s\n", o.key, o.pub)
	}
	_, err = fmt.Fprintf(a.stdout, "FS key      %s\nMRSIGNER    %s\n", o.fsKey, hex.EncodeToString(mrs[:]))
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
