// Package version reports the scone-build version embedded at build time.
package version

// Version is set with -ldflags "-X github.com/scone-build/scone-build/pkg/version.Version=...".
var Version = "v0.1.0-dev"

// String returns the tool's version string.
func String() string { return Version }
