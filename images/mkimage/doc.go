// Command mkimage assembles an OCI image layout from directory trees; it is
// the packing step of images/build.sh (docs/images.md). It reads host
// directories with rootfs.WalkDir, as the converter does.
//
//	mkimage -out DIR -config CONFIG.json [-tag latest] [-epoch N]
//	        -layer dir:ROOT | -layer diff:BASE:NEW | -layer gz:FILE ...
//	mkimage -write-layer FILE.tar.gz [-epoch N] -layer dir:ROOT | -layer diff:BASE:NEW
//
// A dir:ROOT layer holds the whole tree ROOT. A diff:BASE:NEW layer holds what
// changed from tree BASE to tree NEW: new and changed entries (with their
// parent directories) and, for entries that are gone, whiteouts (".wh.NAME").
// A gz:FILE layer is a layer written before with -write-layer, used as is
// (build.sh makes the Debian base layer once and shares it).
// Layers are deterministic: entries in path order, numeric owners, no user or
// group names, modification times clamped to the epoch (SOURCE_DATE_EPOCH),
// hard links kept as links (a copy when the name linked to is in a lower
// layer), gzip-compressed; the config's created time and
// history use the epoch too. CONFIG.json is the image's runtime config in the
// OCI/Docker "config" form (Entrypoint, Cmd, Env, ExposedPorts, User,
// WorkingDir, StopSignal, Labels). DIR is written afresh with one manifest
// whose org.opencontainers.image.ref.name annotation is the tag.
package main
