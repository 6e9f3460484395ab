// Package policy is the CAS policy format, version 1 (docs/cas.md): which
// enclaves may receive a policy's secrets, under which conditions (DEBUG,
// simulation, TCB status, activations), which secrets the CAS keeps for it
// (given in the policy or generated: random bytes, X.509 keys and
// certificates of a per-policy CA), and what an attested enclave receives
// (the FS key, volume keys, environment, arguments, files), with secrets
// placed into them through ${NAME} templates.
//
// A policy document is YAML, decoded strictly (unknown fields and
// duplicate keys are errors). Its identity is the SHA-256 of its exact
// bytes (Hash). Only its owner creates, replaces (naming the Hash of the
// version it replaces in `previous`, so that no version is swapped or
// rolled back silently) or deletes it: Sign and VerifySignature cover the
// exact bytes with the owner's ECDSA P-256 or Ed25519 key.
//
// The package never prints, exits or panics; errors that callers act on
// are typed (*Error with the field path) and wrap ErrInvalid, ErrSignature
// or ErrNotAccepted.
package policy
