package inspect

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
	"github.com/scone-build/scone-build/pkg/fsprotect"
	"github.com/scone-build/scone-build/pkg/sconeimage"
)

// ErrVerification is wrapped by every *CheckError.
var ErrVerification = errors.New("verification failed")

// CheckError names the check that failed.
type CheckError struct {
	Check string
	Err   error
}

func (e *CheckError) Error() string { return fmt.Sprintf("%s: %v", e.Check, e.Err) }
func (e *CheckError) Unwrap() []error {
	return []error{ErrVerification, e.Err}
}

// Check is one verification step and its outcome.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// VerifyOption configures Verify.
type VerifyOption func(*verifyOptions)

type verifyOptions struct {
	fsKey      *fsprotect.Key
	identities []fskey.Identity
}

// WithFSKey also authenticates every file of the protected FS image.
func WithFSKey(k fsprotect.Key) VerifyOption { return func(o *verifyOptions) { o.fsKey = &k } }

// WithExpectedMRSIGNER requires this signer.
func WithExpectedMRSIGNER(m [32]byte) VerifyOption {
	return WithExpectedIdentity(fskey.Identity{MRSIGNER: &m})
}

// WithExpectedIdentity requires what id names (an FS key file's identity,
// say): the signer, and where given the MRENCLAVE, ISVPRODID and minimum
// ISVSVN. Given several times, the image must meet every one. An id with
// only ISVPRODID or a minimum ISVSVN is checked too, but does not by itself
// name an identity (Verify then still fails with ErrNoExpectedIdentity).
func WithExpectedIdentity(id fskey.Identity) VerifyOption {
	return func(o *verifyOptions) {
		if !id.IsZero() || id.ISVProdID != nil || id.MinISVSVN != nil {
			o.identities = append(o.identities, id)
		}
	}
}

// ErrNoExpectedIdentity: Verify was not told which enclave identity to
// expect. Anyone can re-sign an image with a key of their own, so a
// signature proves nothing until its signer is the expected one.
var ErrNoExpectedIdentity = errors.New("no expected signer given: anyone can sign an image with a key of their own")

// Verify checks the image offline and returns every check made. The error
// is the first failure (a *CheckError), or nil.
func (im *Image) Verify(ctx context.Context, opts ...VerifyOption) ([]Check, error) {
	o := &verifyOptions{}
	for _, f := range opts {
		f(o)
	}
	var checks []Check
	var first error
	record := func(name string, err error, detail string) {
		c := Check{Name: name, OK: err == nil, Detail: detail}
		if err != nil {
			c.Detail = err.Error()
			if first == nil {
				first = &CheckError{Check: name, Err: err}
			}
		}
		checks = append(checks, c)
	}
	ss := im.SigStruct
	record("sigstruct signature", ss.Verify(), "RSA-3072 e=3 PKCS#1 v1.5 SHA-256, Q1/Q2")
	m, err := enclave.Measure(bytes.NewReader(im.Run), im.ConfigBin)
	if err == nil && m.MRENCLAVE != ss.EnclaveHash {
		err = fmt.Errorf("recomputed MRENCLAVE %x differs from SIGSTRUCT ENCLAVEHASH %x", m.MRENCLAVE, ss.EnclaveHash)
	}
	record("measurement", err, "MRENCLAVE recomputed from scone-run and config.bin equals ENCLAVEHASH")
	mrsigner := ss.MRSIGNER()
	idErr := ErrNoExpectedIdentity
	for _, id := range o.identities {
		if !id.IsZero() {
			idErr = nil
		}
	}
	enc := fskey.Enclave{MRENCLAVE: ss.EnclaveHash, MRSIGNER: mrsigner, ISVProdID: ss.ISVProdID, ISVSVN: ss.ISVSVN}
	for _, id := range o.identities {
		if idErr != nil {
			break
		}
		if id.IsZero() {
			// only ISV constraints: check them against a signer-free identity
			id.MRENCLAVE = [][32]byte{enc.MRENCLAVE}
		}
		idErr = id.Check(enc)
	}
	record("signer", idErr, "the enclave identity (MRSIGNER, and where given MRENCLAVE, ISVPRODID, ISVSVN) is the expected one")
	root, err := fsprotect.RootOf(bytes.NewReader(im.FSImage), int64(len(im.FSImage)))
	if err == nil && root != im.Config.FSRoot {
		err = fmt.Errorf("FS image root %x differs from the measured config's %x", root, im.Config.FSRoot)
	}
	record("fs root", err, "the protected FS image is the one the measured config binds")
	var lerr error
	for k, want := range map[string]string{
		sconeimage.LabelMRENCLAVE: hex.EncodeToString(ss.EnclaveHash[:]),
		sconeimage.LabelMRSIGNER:  hex.EncodeToString(mrsigner[:]),
		sconeimage.LabelFSRoot:    hex.EncodeToString(im.Config.FSRoot[:]),
	} {
		if got := im.Label(k); got != want && lerr == nil {
			lerr = fmt.Errorf("label %s is %q, the enclave says %q", k, got, want)
		}
	}
	record("labels", lerr, "labels agree with the SIGSTRUCT and the measured config")
	if o.fsKey != nil {
		err := fsprotect.Verify(bytes.NewReader(im.FSImage), int64(len(im.FSImage)), *o.fsKey, fsprotect.WithExpectedRoot(im.Config.FSRoot))
		record("fs contents", err, "every file of the protected FS image authenticates with the key")
	}
	if err := ctx.Err(); err != nil {
		return checks, err
	}
	return checks, first
}
