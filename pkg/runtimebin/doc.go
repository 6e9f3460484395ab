// Package runtimebin gives access to the shield runtime binaries (scone-run,
// scone-host) that `make runtime` builds from runtime/ and that are embedded
// into scone-build. The conversion pipeline puts them into the runtime base
// layer of every output image.
package runtimebin
