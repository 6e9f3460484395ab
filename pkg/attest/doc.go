// Package attest verifies Intel SGX DCAP quotes in pure Go: ECDSA-P256
// quotes of version 3 with their collateral (docs/attestation.md), and
// simulation quotes, which have the same layout but are signed by a
// simulation key instead of SGX hardware.
//
// ParseQuote and ParseCollateral read the bytes and refuse what is not a
// quote or collateral with a *FormatError that says where and why. Verify
// checks a hardware quote: the attestation key's signature over the quote,
// the QE report signed by the PCK certificate and binding the attestation
// key, the PCK chain up to the pinned Intel SGX Root CA key (never the root
// a chain carries), the root CA and PCK CRLs, the signed TCB info and QE
// identity, the quoting enclave against the QE identity, the platform's TCB
// level (from the PCK certificate's SGX extensions) and the validity of
// everything at the verification time. It returns a *Result (the enclave's
// identity, the TCB status and advisories, the collateral's validity
// window) or an error wrapping one of the sentinel errors (ErrSignature,
// ErrChain, ErrRevoked, ErrExpired, ErrNotYetValid, ErrTCB, ErrTCBStatus,
// ErrQEIdentity, ErrSimulation, ErrFormat).
//
// A Verifier caches the checks of collateral and PCK chains, so that
// verifying many quotes against the same collateral costs about two ECDSA
// verifications each. NewSimulationQuote and VerifySimulation make and check
// simulation quotes; their Result has Simulation set.
//
// The package uses only the standard library, never prints, exits or panics.
package attest
