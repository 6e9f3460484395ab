package attest

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Every verification error wraps exactly one of them (and
// ErrFormat is wrapped by *FormatError); callers act on them with errors.Is.
var (
	// ErrSignature: a signature does not verify, or the QE report does not
	// bind the attestation key: something signed was modified.
	ErrSignature = errors.New("signature does not verify")
	// ErrChain: a certificate chain does not lead to the trusted root key, or
	// a CRL or signed document is not issued by the certificate it must be.
	ErrChain = errors.New("certificate chain does not lead to the trusted root")
	// ErrRevoked: a certificate is on a CRL.
	ErrRevoked = errors.New("certificate revoked")
	// ErrExpired: a collateral item or certificate is past its validity.
	ErrExpired = errors.New("expired")
	// ErrNotYetValid: a collateral item or certificate is not valid yet at
	// the verification time (a wrong clock, or a wrong --at).
	ErrNotYetValid = errors.New("not yet valid")
	// ErrTCB: the TCB info does not cover the platform: another FMSPC or
	// PCE ID, or no TCB level matches.
	ErrTCB = errors.New("TCB info does not cover the platform")
	// ErrTCBStatus: the quote is genuine, but the platform's TCB status is
	// not one the caller accepts (Revoked never is).
	ErrTCBStatus = errors.New("TCB status not accepted")
	// ErrQEIdentity: the quoting enclave is not the one the QE identity names.
	ErrQEIdentity = errors.New("quoting enclave does not match the QE identity")
	// ErrSimulation: a simulation quote was given where a hardware quote is
	// needed; it carries no hardware evidence (see VerifySimulation).
	ErrSimulation = errors.New("simulation quote")
)

// Error is a verification failure: Kind is the sentinel it wraps, Step the
// verification step (as docs/attestation.md lists them).
type Error struct {
	Step string
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Step + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

func fail(kind error, step, format string, a ...any) error {
	return &Error{Step: step, Kind: kind, Msg: fmt.Sprintf(format, a...)}
}

// ValidityError says which item is outside its validity window at the
// verification time. It wraps ErrExpired or ErrNotYetValid. Validity windows
// include both ends.
type ValidityError struct {
	// Item names the item: "the QE identity", "the PCK CRL",
	// `certificate "Intel SGX PCK Certificate" (PCK chain)`, ...
	Item string
	// Certificate is true when Item is a certificate (else a collateral
	// document: TCB info, QE identity, CRL).
	Certificate bool
	// StartField and EndField name the item's own fields (issueDate and
	// nextUpdate, thisUpdate and nextUpdate, notBefore and notAfter).
	StartField, EndField string
	NotBefore, NotAfter  time.Time
	At                   time.Time
}

// Expired reports whether the item expired (rather than not being valid yet).
func (e *ValidityError) Expired() bool { return e.At.After(e.NotAfter) }

func (e *ValidityError) Error() string {
	what := "collateral"
	if e.Certificate {
		what = "certificate"
	}
	at := e.At.UTC().Format(time.RFC3339)
	if e.Expired() {
		return fmt.Sprintf("%s expired at %s: %s of %s (verifying at %s)", what, e.NotAfter.UTC().Format(time.RFC3339), e.EndField, e.Item, at)
	}
	return fmt.Sprintf("%s not valid before %s: %s of %s (verifying at %s)", what, e.NotBefore.UTC().Format(time.RFC3339), e.StartField, e.Item, at)
}

func (e *ValidityError) Is(target error) bool {
	if e.Expired() {
		return target == ErrExpired
	}
	return target == ErrNotYetValid
}
