// Package frontend is the BuildKit gateway frontend of scone-build as a
// library: a Dockerfile whose first line is `# syntax=<frontend image>` is
// built by BuildKit's built-in Dockerfile frontend as usual, and its result
// is then converted into a confidential image by running
// `scone-build convert dir:/in dir:/out` as an LLB exec inside the frontend
// image, with the signer key and the FS key mounted as BuildKit secrets.
//
// The package also builds the frontend image itself (Image) and computes the
// non-secret key fingerprint (Fingerprint) that keys BuildKit's cache on the
// keys without putting them into any cache record. docs/frontend.md is the
// user documentation.
package frontend
