// Package rootfs flattens an image's layers into one root file system tree,
// as a container engine would mount it, and serves that tree as a
// deterministic tar stream and as an io/fs file system.
//
// Flattening honours whiteouts (.wh.NAME) and opaque directories
// (.wh..wh..opq) and keeps symlinks, hardlinks, modes, ownership, mtimes and
// xattrs (PAX SCHILY.xattr.*). Device nodes, fifos, entries escaping the root
// and other oddities are kept where meaningful and reported as Notes, never
// fatal. Layers are decompressed concurrently (gzip with
// klauspost/compress, zstd, or uncompressed, by media type and magic) and
// applied in order.
//
// The whole tree is held in memory: file contents are needed twice (ELF
// analysis and encryption) and images that fit in a container registry fit
// in memory. Trees are immutable once built and safe for concurrent reads.
package rootfs
