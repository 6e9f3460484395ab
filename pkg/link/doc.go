// Package link analyses the ELF files of a flattened container image and
// decides whether its entrypoint can run in a scone-build enclave.
//
// For every ELF file it reports the class and machine (only 64-bit x86-64 is
// supported), the kind (executable, shared library, ...) and linking (static,
// static-pie, dynamic), PIE, the interpreter, the C library (glibc with the
// minimum version from its GLIBC_2.x symbol versions, musl, none for Go
// without cgo), Go build information, the imported symbols (C++ and Rust
// names demangled), and risky features: process creation (fork, vfork,
// posix_spawn, system), exec, clone, dlopen, raw syscall instructions in
// executable segments, an executable stack, text relocations and TLS.
//
// For executables it resolves the dependency closure inside the image the
// way the dynamic loader would (DT_NEEDED; DT_RPATH, inherited, only when
// there is no DT_RUNPATH; LD_LIBRARY_PATH from the image environment;
// DT_RUNPATH, not inherited; /etc/ld.so.cache, or the /etc/ld.so.conf
// directories when there is no cache; the default directories; musl's
// /etc/ld-musl-x86_64.path), and records the result as a LoadPlan: the
// interpreter, the libraries in load order and the interception path
// ("sud": every system call reaches the runtime through Syscall User
// Dispatch). Each binary gets a Verdict (supported, supported with caveats,
// unsupported) and Findings that say why and what to do; docs/compatibility.md
// describes each finding and the runtime contract behind the verdicts.
//
// # Entry points
//
// Analyze analyses an image, AnalyzeFile one ELF file from an io.ReaderAt,
// ParseLDCache a glibc ld.so.cache. Report.Err returns an *IncompatibleError
// when the entrypoint is unsupported, which the convert pipeline refuses
// unless forced.
//
// # The file system
//
// The image is an FS: an io/fs file system with ReadLink and Lstat (the
// interface of fs.ReadLinkFS, which os.DirFS, (*os.Root).FS and
// testing/fstest.MapFS implement). Names are relative to the image root,
// without a leading slash ("usr/bin/nginx"). The package resolves symbolic
// links itself, with the image root as "/": an absolute target starts again
// at the image root and ".." stops there, so a link never leaves the image.
// It opens only link-free paths; opened files should implement io.ReaderAt
// (files that do not are read into memory, up to WithMaxFileSize). OpenDir
// provides the FS for a host directory, rooted with os.Root.
//
// # Errors
//
// The package never panics, prints or exits on any input. Malformed ELF
// files give a *FormatError with the offset of the offending structure; a
// well-formed ELF file of another machine or class gives an
// *UnsupportedError (with a partial Binary); files that are not ELF give
// ErrNotELF. A malformed ld.so.cache gives a *CacheFormatError. Analyze
// returns ErrNoEntrypoint, ErrEntrypointNotFound and ErrNotELF (wrapped) for
// entrypoints it cannot resolve. Inside an image, malformed files do not fail
// the analysis: they are listed with Error set and verdict unsupported.
package link
