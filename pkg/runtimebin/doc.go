// Package runtimebin gives access to the shield runtime binaries (scone-run,
// scone-host) that `make runtime` builds from runtime/ and that are embedded
// into scone-build. The conversion pipeline puts them into the runtime base
// layer of every output image; that layer is built once, by `make runtime`
// (internal/runtimelayer), and embedded too (Layer), with a manifest that
// ties it to the binaries.
package runtimebin
