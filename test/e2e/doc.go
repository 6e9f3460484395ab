// Package e2e holds the end-to-end acceptance tests of converted images:
// real images (`make images`) are converted with the embedded scone-run
// runtime and run under podman next to the unconverted originals; outputs
// must be byte-identical (console shield off) or decrypt to identical output
// (console shield on), tampered images must be refused before any
// application code runs, and no plaintext may appear in any output layer.
//
// The tests skip, saying why, when podman, the runtime or an image is absent.
package e2e
