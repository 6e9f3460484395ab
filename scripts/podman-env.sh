# shellcheck shell=bash
# Source this file (". scripts/podman-env.sh") to run podman with the set-up that
# works on the project's machines, the same as internal/podmantest uses:
# runtime runc, cgroupfs, file events logger, ulimits nofile=1024:1024
# nproc=4096:4096, netavark, overlay storage under $SCONE_PODMAN_DIR
# (default ${TMPDIR:-/tmp}/scone-podman). Nothing is written to /etc.
# Exports CONTAINERS_CONF and CONTAINERS_STORAGE_CONF.
SCONE_PODMAN_DIR="${SCONE_PODMAN_DIR:-${TMPDIR:-/tmp}/scone-podman}"
export SCONE_PODMAN_DIR
mkdir -p "$SCONE_PODMAN_DIR"
_scone_podman_write() { # FILE CONTENT: write atomically when it differs
  if [ "$(cat "$1" 2>/dev/null)" != "$2" ]; then
    printf '%s\n' "$2" > "$1.tmp.$$" && chmod 644 "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
  fi
}
# containers.conf has one home, shared with the Go tests (internal/podmantest).
_scone_podman_write "$SCONE_PODMAN_DIR/containers.conf" "$(cat "$(dirname "${BASH_SOURCE[0]}")/../internal/podmantest/containers.conf")"
_scone_podman_write "$SCONE_PODMAN_DIR/storage.conf" "[storage]
driver = \"overlay\"
runroot = \"$SCONE_PODMAN_DIR/run\"
graphroot = \"$SCONE_PODMAN_DIR/storage\""
unset -f _scone_podman_write
export CONTAINERS_CONF="$SCONE_PODMAN_DIR/containers.conf"
export CONTAINERS_STORAGE_CONF="$SCONE_PODMAN_DIR/storage.conf"
