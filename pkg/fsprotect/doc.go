// Package fsprotect implements the protected file system image of scone-build,
// format version 1 (docs/fsprotect.md).
//
// A protected FS image holds a whole root file system: file contents are
// encrypted in AES-256-GCM chunks, the metadata (names, tree, modes, owners,
// xattrs, link targets, chunk nonces and tags) lives in one encrypted index,
// and a 192-byte header at the end of the image is MACed with a key derived
// from the 32-byte FS key. The SHA-256 of that header is the image's root
// hash: it commits to every byte of the image, so it can be placed in the
// measured enclave configuration, and it can be recomputed without the key
// (RootOf).
//
// Pack writes an image from a tar stream, deterministically for the same
// input, key and options, using all cores. Open returns a Reader that
// implements io/fs.FS and authenticates every byte it returns; reading a
// range of a file authenticates only the chunks it touches. Verify checks a
// whole image with the key.
//
// Errors that callers act on are typed: ErrWrongKey, ErrTruncated,
// ErrInvalidInput, *AuthError, *UnknownVersionError and
// *FormatError. The package never prints, exits or panics.
package fsprotect
