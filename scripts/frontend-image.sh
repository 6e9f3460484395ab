#!/usr/bin/env bash
# Builds the scone-build BuildKit frontend image (docs/frontend.md) as an OCI
# layout, and optionally pushes it to a registry.
#
#   scripts/frontend-image.sh [--out DIR] [--tag TAG] [--push REF [--insecure]]
#                             [--frontend FILE] [--scone-build FILE]
#
# --out DIR         OCI layout to (re)create (default bin/frontend-image)
# --tag TAG         ref name inside the layout (default scone-frontend)
# --push REF        also push to REF (e.g. registry.example/scone-frontend:v1)
# --insecure        plain http for --push (a local registry)
# --frontend FILE   use this static scone-frontend instead of building bin/scone-frontend
# --scone-build FILE use this scone-build instead of bin/scone-build (`make build`)
#
# Prints the image's manifest digest on stdout. The image is deterministic: the
# same binaries and SOURCE_DATE_EPOCH give the same digest.
set -euo pipefail
cd "$(dirname "$0")/.."

out=bin/frontend-image tag=scone-frontend push="" insecure="" fe="" sb=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --push) push=$2; shift 2 ;;
    --insecure) insecure=--insecure; shift ;;
    --frontend) fe=$2; shift 2 ;;
    --scone-build) sb=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "frontend-image.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

GO=${GO:-go}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo v0.1.0-dev)}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
ldflags="-s -w -buildid= -X github.com/scone-build/scone-build/pkg/version.Version=$VERSION"

if [ -z "$fe" ]; then
  mkdir -p bin
  CGO_ENABLED=0 "$GO" build -trimpath -ldflags "$ldflags" -o bin/scone-frontend ./cmd/scone-frontend
  fe=bin/scone-frontend
fi
if [ -z "$sb" ]; then
  [ -x bin/scone-build ] || make build >&2
  sb=bin/scone-build
fi
if ! "$sb" convert --help 2>/dev/null | grep -q -- '--source-config'; then
  echo "frontend-image.sh: warning: $sb convert has no --source-config (dir: sources); the frontend's conversion step will fail" >&2
fi

args=(--frontend "$fe" --scone-build "$sb" --tag "$tag")
if [ -n "$out" ]; then
  rm -rf "$out"
  args+=(--out "$out")
fi
[ -n "$push" ] && args+=(--push "$push")
[ -n "$insecure" ] && args+=("$insecure")
CGO_ENABLED=0 "$GO" run -trimpath ./cmd/scone-frontend/mkimage "${args[@]}"
