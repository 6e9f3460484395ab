// Package podmantest runs real podman from Go tests with the set-up that works
// on the project's machines (docs: /work/shared/docs/ENVIRONMENT.md, docs/images.md).
//
// New writes a containers.conf (runtime runc, cgroupfs, file events logger,
// ulimits nofile=1024:1024 nproc=4096:4096, netavark) and a storage.conf
// (overlay, graphroot and runroot under one directory) into a stable directory,
// $SCONE_PODMAN_DIR or os.TempDir()/scone-podman, and passes them to every podman
// call through CONTAINERS_CONF and CONTAINERS_STORAGE_CONF. Nothing is written to
// /etc. scripts/podman-env.sh gives a shell the same environment.
//
// Tests skip, with the reason, when podman is not installed or `podman info`
// fails. Images a test loads get a unique tag that is removed at the end of the
// test (and the image with it when nothing else names it); containers a test
// starts are removed at the end of the test.
package podmantest
