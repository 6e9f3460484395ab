#!/usr/bin/env bash
# BuildKit for scone-build's frontend tests and local use.
#
#   scripts/buildkit.sh build          build buildkitd + buildctl v0.33.1 into the cache dir
#                                      (reused when present); prints the directory
#   scripts/buildkit.sh start DIR      start buildkitd with a temp root under DIR (runc worker,
#                                      overlayfs, containerd worker off); prints the socket
#                                      address; pid in DIR/buildkitd.pid, log in DIR/buildkitd.log
#   scripts/buildkit.sh stop DIR       stop the daemon started with `start DIR`
#
# Environment: BUILDKIT_CACHE (default $HOME/.cache/scone-build/buildkit/v0.33.1),
# BUILDKIT_REGISTRY_HTTP (optional "localhost:PORT" of a plain-http registry for buildkitd.toml).
# The version is pinned: v0.33.1 is the one go.mod requires (newer ones need module
# versions the proxy refuses). `go install @version` fails on the module's exclude
# directives, so this builds inside the module cache.
set -euo pipefail

BUILDKIT_VERSION=v0.33.1
BUILDKIT_CACHE=${BUILDKIT_CACHE:-$HOME/.cache/scone-build/buildkit/$BUILDKIT_VERSION}

die() { echo "buildkit.sh: $*" >&2; exit 1; }

cmd_build() {
  if [ -x "$BUILDKIT_CACHE/buildkitd" ] && [ -x "$BUILDKIT_CACHE/buildctl" ]; then
    echo "$BUILDKIT_CACHE"
    return
  fi
  command -v go >/dev/null || die "go is not installed"
  go mod download "github.com/moby/buildkit@$BUILDKIT_VERSION" >&2 ||
    die "downloading github.com/moby/buildkit@$BUILDKIT_VERSION failed"
  local src
  src="$(go env GOMODCACHE)/github.com/moby/buildkit@$BUILDKIT_VERSION"
  [ -d "$src" ] || die "module source $src missing after go mod download"
  mkdir -p "$BUILDKIT_CACHE"
  build_tmp=$(mktemp -d "$BUILDKIT_CACHE/.build.XXXXXX")
  trap 'rm -rf "$build_tmp"' EXIT
  local tmp=$build_tmp
  local start=$SECONDS
  echo "buildkit.sh: building buildkitd and buildctl $BUILDKIT_VERSION (about 2.5 min cold)" >&2
  # GOFLAGS=-mod=mod: the module cache is read-only and has no vendor dir.
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
      -tags "osusergo netgo static_build seccomp" -o "$tmp/buildkitd" ./cmd/buildkitd) >&2 ||
    die "building buildkitd failed"
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -o "$tmp/buildctl" ./cmd/buildctl) >&2 ||
    die "building buildctl failed"
  mv "$tmp/buildkitd" "$tmp/buildctl" "$BUILDKIT_CACHE/"
  echo "buildkit.sh: built in $((SECONDS - start)) s into $BUILDKIT_CACHE" >&2
  echo "$BUILDKIT_CACHE"
}

cmd_start() {
  local dir=${1:?usage: buildkit.sh start DIR}
  local bin
  bin=$(cmd_build)
  local runc
  runc=$(command -v runc || true)
  [ -n "$runc" ] || die "runc is not installed (apt-get install runc)"
  mkdir -p "$dir/root"
  dir=$(cd "$dir" && pwd)
  {
    echo "root = \"$dir/root\""
    echo "[grpc]"
    echo "  address = [\"unix://$dir/buildkitd.sock\"]"
    echo "[worker.oci]"
    echo "  enabled = true"
    echo "  binary = \"$runc\""
    echo "  snapshotter = \"overlayfs\""
    echo "  gc = false"
    echo "[worker.containerd]"
    echo "  enabled = false"
    if [ -n "${BUILDKIT_REGISTRY_HTTP:-}" ]; then
      echo "[registry.\"$BUILDKIT_REGISTRY_HTTP\"]"
      echo "  http = true"
      echo "  insecure = true"
    fi
  } >"$dir/buildkitd.toml"
  "$bin/buildkitd" --config "$dir/buildkitd.toml" >"$dir/buildkitd.log" 2>&1 &
  echo $! >"$dir/buildkitd.pid"
  local addr="unix://$dir/buildkitd.sock"
  for _ in $(seq 1 100); do
    if "$bin/buildctl" --addr "$addr" debug workers >/dev/null 2>&1; then
      echo "$addr"
      return
    fi
    if ! kill -0 "$(cat "$dir/buildkitd.pid")" 2>/dev/null; then
      tail -n 20 "$dir/buildkitd.log" >&2
      die "buildkitd exited during start-up (log: $dir/buildkitd.log)"
    fi
    sleep 0.2
  done
  tail -n 20 "$dir/buildkitd.log" >&2
  die "buildkitd did not answer on $addr within 20 s (log: $dir/buildkitd.log)"
}

cmd_stop() {
  local dir=${1:?usage: buildkit.sh stop DIR}
  [ -f "$dir/buildkitd.pid" ] || return 0
  local pid
  pid=$(cat "$dir/buildkitd.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/buildkitd.pid"
}

case "${1:-}" in
  build) cmd_build ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) echo "usage: $0 build | start DIR | stop DIR" >&2; exit 2 ;;
esac
