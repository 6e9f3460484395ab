package enclave

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Signer signs SIGSTRUCT signing data: Sign returns the raw 384-byte
// big-endian RSASSA-PKCS1-v1_5 signature over SHA-256(signedData).
type Signer interface {
	Public() *rsa.PublicKey
	Sign(ctx context.Context, signedData []byte) (sig []byte, err error)
}

// KeySigner signs with a private key held in memory.
type KeySigner struct {
	key *rsa.PrivateKey
}

// NewKeySigner returns a Signer for k, which must be RSA-3072 with e = 3.
func NewKeySigner(k *rsa.PrivateKey) (*KeySigner, error) {
	if k == nil {
		return nil, keyErr("no private key")
	}
	if err := CheckPublicKey(&k.PublicKey); err != nil {
		return nil, err
	}
	return &KeySigner{key: k}, nil
}

// LoadKeySigner reads a PEM signing key file (PKCS#1 or PKCS#8).
func LoadKeySigner(path string) (*KeySigner, error) {
	k, err := LoadPrivateKey(path)
	if err != nil {
		return nil, err
	}
	return NewKeySigner(k)
}

// Public returns the public key.
func (s *KeySigner) Public() *rsa.PublicKey { return &s.key.PublicKey }

// Sign signs SHA-256(signedData) with PKCS#1 v1.5. It is deterministic.
func (s *KeySigner) Sign(ctx context.Context, signedData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d := sha256.Sum256(signedData)
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, d[:])
	if err != nil {
		return nil, fmt.Errorf("signing with RSA key: %w", err)
	}
	return sig, nil
}

// ErrSignCommand is wrapped when an external signing command fails or
// returns something that is not a valid signature.
var ErrSignCommand = errors.New("signing command failed")

// CommandSigner runs an external program to sign (an HSM or KMS client,
// `openssl dgst -sha256 -sign key.pem`, ...). The program gets the signing
// data (256 bytes; it must hash them with SHA-256 itself) on stdin and
// writes the signature to stdout: the raw 384 bytes (big-endian, as openssl
// and PKCS#11 produce) or their hex or base64 text (whitespace ignored). The
// signature is verified with the configured public key before it is accepted.
type CommandSigner struct {
	pub  *rsa.PublicKey
	argv []string
}

// NewCommandSigner returns a Signer that runs argv (argv[0] is looked up in
// PATH; no shell is involved) and checks its output against pub.
func NewCommandSigner(pub *rsa.PublicKey, argv ...string) (*CommandSigner, error) {
	if err := CheckPublicKey(pub); err != nil {
		return nil, err
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil, fmt.Errorf("creating command signer: empty command: %w", ErrSignCommand)
	}
	return &CommandSigner{pub: pub, argv: append([]string(nil), argv...)}, nil
}

// Public returns the public key the signatures are checked with.
func (s *CommandSigner) Public() *rsa.PublicKey { return s.pub }

// Sign runs the command and returns its verified signature.
func (s *CommandSigner) Sign(ctx context.Context, signedData []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, s.argv[0], s.argv[1:]...)
	cmd.Stdin = bytes.NewReader(signedData)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if len(msg) > 512 {
			msg = msg[:512] + "..."
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("running signing command %q: %w", s.argv[0], ctx.Err())
		}
		return nil, fmt.Errorf("running signing command %q: %v (stderr: %q): %w", s.argv[0], err, msg, ErrSignCommand)
	}
	sig, err := DecodeSignature(out.Bytes())
	if err != nil {
		return nil, fmt.Errorf("reading output of signing command %q: %w", s.argv[0], err)
	}
	d := sha256.Sum256(signedData)
	if err := rsa.VerifyPKCS1v15(s.pub, crypto.SHA256, d[:], sig); err != nil {
		return nil, fmt.Errorf("checking signature from signing command %q: wrong key or data: %w", s.argv[0], ErrSignature)
	}
	return sig, nil
}

// DecodeSignature accepts a signature as the raw 384 bytes (big-endian), or
// as their hex or base64 text (whitespace ignored).
func DecodeSignature(b []byte) ([]byte, error) {
	if len(b) == KeyBytes {
		return append([]byte(nil), b...), nil
	}
	t := strings.Join(strings.Fields(string(b)), "")
	if len(t) == 2*KeyBytes {
		if sig, err := hex.DecodeString(t); err == nil {
			return sig, nil
		}
	}
	sig, err := base64.StdEncoding.DecodeString(t)
	if err != nil || len(sig) != KeyBytes {
		return nil, fmt.Errorf("signature is %d bytes, neither %d raw bytes nor their hex or base64: %w", len(b), KeyBytes, ErrSignCommand)
	}
	return sig, nil
}
