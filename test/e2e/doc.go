// Package e2e holds the end-to-end acceptance tests of converted images:
// real images (`make images`) are converted with the embedded scone-run
// runtime and run under podman next to the unconverted originals; outputs
// must be byte-identical (console shield off) or decrypt to identical output
// (console shield on), tampered images must be refused before any
// application code runs, and no plaintext may appear in any output layer.
//
// cas_test.go runs the CAS (scone-cas serve, a static binary in an image of
// its own) and converted applications in separate containers on a podman
// network: the applications get their FS key and secrets from the policy
// with no key on the host (docs/cas.md, "Tests").
//
// The tests skip, saying why, when podman, the runtime or an image is absent.
package e2e
