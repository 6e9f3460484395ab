// Package buildkit holds the end-to-end test of scone-build's BuildKit
// frontend (cmd/scone-frontend, pkg/frontend): it builds buildkitd and buildctl
// v0.33.1 (scripts/buildkit.sh, cached), starts a daemon with a temporary root
// and the runc worker, builds testdata/frontend/Dockerfile whose first line is
// `# syntax=scone-frontend` with the frontend image and the base image taken
// from OCI layouts (no registry; one more build pulls the frontend from a
// local registry after scripts/frontend-image.sh --push), and checks the
// converted image, BuildKit's
// caching of the conversion, and that MRENCLAVE equals `scone-build convert`
// of the same image. It skips, with the reason, when buildkitd cannot be built
// or started, and skips the podman steps when podman is absent.
//
//	go test ./test/buildkit -run TestFrontendEndToEnd -v
package buildkit
