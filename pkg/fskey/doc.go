// Package fskey owns the FS key and its key file, format version 1
// (docs/keys.md).
//
// An FS key is 32 random bytes. It encrypts the protected file system of a
// converted image, and the runtime refuses to use it for an enclave that its
// owner did not expect: a version 1 key file records, next to the key, the
// enclave identity it belongs to (MRSIGNER, optionally MRENCLAVE values,
// ISVPRODID and a minimum ISVSVN). A bare key (64 hex digits, the format of
// earlier releases) names no identity; the runtime accepts it only when the
// deployer names the identity separately or asks for development mode.
//
// Parse and Load read both forms and refuse anything else (32 raw bytes, a
// passphrase, a truncated file) with a *ParseError that names the line.
// Identity.Check tells whether an enclave identity is one the key's owner
// expects. The package never prints, exits or panics.
package fskey
