// Package fsprotect implements the protected file system image of scone-build,
// format version 2 (docs/fsprotect.md); it also reads version 1.
//
// A protected FS image holds a whole root file system: file contents are
// encrypted in AES-256-GCM chunks, the metadata (names, tree, modes, owners,
// xattrs, link targets, chunk nonces and tags) lives in one encrypted index,
// and a header at the end of the image is MACed with a key derived from the
// 32-byte FS key. The SHA-256 of that header is the image's root hash: it
// commits to every byte of the image, so it can be placed in the measured
// enclave configuration, and it can be recomputed without the key (RootOf).
//
// Pack writes an image from a tar stream, deterministically for the same
// input, key and options, using all cores; PackTree writes the same image
// from entries in memory, and ContentCache encrypts contents ahead of it.
// Each chunk's synthetic nonce, hence its ciphertext, is bound to a per-image
// salt (a keyed hash of a salt source that identifies the tree:
// WithSaltSource, or TreeSaltSource) and to the file's path, so equal
// contents at different paths, or in different images, do not encrypt
// alike. With WithCompression each chunk is LZ4-compressed before it is
// encrypted (stored as it is when that does not shrink it; header flag
// 0x1); readers authenticate a chunk before they decompress it.
// Open returns a Reader that implements io/fs.FS and authenticates
// every byte it returns; reading a range of a file authenticates only the
// chunks it touches. Verify checks a whole image with the key.
//
// Errors that callers act on are typed: ErrWrongKey, ErrTruncated,
// ErrInvalidInput, *AuthError, *UnknownVersionError and
// *FormatError. The package never prints, exits or panics.
package fsprotect
