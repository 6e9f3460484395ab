// Package volume implements protected volumes, format version 1
// (docs/volume.md): a host directory that holds a file tree encrypted and
// authenticated under a 32-byte volume key, written by the runtime while
// the application runs and read here by the offline tools.
//
// Every page of every file is sealed with a deterministic AES-256 SIV
// (GHASH PRF, CTR keystream) bound to its volume, file and position; the
// seals of a file's pages form a tag tree whose root is in the file's
// inode; the inodes and directory entries live in an encrypted snapshot
// plus an append-only log of commits, each commit chained to the previous
// one. A crash at any moment leaves a volume that opens at its last
// commit: pages at committed places are never overwritten before a
// checkpoint.
//
// Create makes a new volume; Open opens one, recovering from an
// interrupted commit or checkpoint (read-only with ReadOnly: nothing on
// the host changes). A *Volume reads like an io/fs.FS, writes through
// Mkdir, WriteFile, WriteAt, Truncate, Rename, Link, Symlink, Remove,
// Chmod, and makes its changes durable with Commit and Checkpoint. Verify
// authenticates a whole volume; List and Export serve the scone-build
// volume tools.
//
// Errors that callers act on are typed: ErrWrongKey, ErrNotVolume,
// ErrReadOnly, *AuthError, *UnknownVersionError and *FormatError. The
// package never prints, exits or panics.
package volume
