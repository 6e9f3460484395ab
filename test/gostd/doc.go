// Package gostd runs the Go standard library's own tests converted and
// natively and compares them test by test (issue 15).
//
// For each package of the suite (os, os/exec, net/http, ...; see packages in
// gostd_test.go) `go test -c` (CGO_ENABLED=0: a static binary) is packed with
// the packages' source directories ($GOROOT/src/PKG, for their testdata) on
// top of the debian image's tree (`make images IMAGES=debian`). The tree
// with the test binaries of all packages is converted once per enclave heap
// size the packages need (two conversions, not one per package) with
// pkg/convert as `scone-build convert dir:` would (entrypoint /bin/sh, GOROOT
// set, host arguments allowed). Each package's binary then runs under the
// embedded scone-run in simulation mode as `sh -c 'cd "$0" && exec "$@"'
// PKGDIR BINARY -test.short -test.v`, and natively the same way in a chroot
// into the same tree (with /proc, /dev, /sys, /etc/hosts and
// /etc/resolv.conf of the host, which the converted run also reaches). Every
// test that passes natively must pass converted, except the commented
// allow-list (knownDiffs in known_test.go), each naming its root cause. A
// package's nativeSkip tests (runtime's TestMemmoveOverflow: ~65 s natively
// on a PVM guest) are left out of the native run in -test.short mode and
// must pass or skip converted.
//
// Every package runs with -test.short in `make test` (about 150 s on two
// cores, building the binaries and the images included); `go test ./test/gostd -long` (make test-gostd) runs them without
// it. A test that fails converted is run again alone, up to twice, before
// it counts (the suite shares the cores; some tests measure time); one that
// then passes is logged as flaky. -pkgs A,B runs some packages; -table
// FILE writes the per-package table as Markdown.
//
// SCONE_E2E_TRANSPORT and SCONE_E2E_SCHEDULER (internal/testruntime)
// convert with another transport and scheduler; TestGoStdlibAsyncMN runs
// syscall, os/signal and sync with the async transport and the user-level
// threads on every run.
//
// The test skips, saying why, without root (chroot), the runtime, the
// debian image or `go`.
package gostd
