#!/usr/bin/env bash
# Codec comparison for the protected FS image's per-chunk compression
# (issue 16; docs/fsprotect.md, "Per-chunk compression"; docs/benchmarks.md):
# every cached real image (make images), its layers decompressed and
# concatenated, chunked as the packer chunks files.
#   bench/codec/run.sh [chunk size, default 4096] [image ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
cs=${1:-4096}
shift || true
cache=${SCONE_IMAGE_CACHE:-$HOME/.cache/scone-build/images}
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
gcc -O2 -o "$w/codec" bench/codec/codec.c -llz4 -lzstd
imgs=("$@")
[ ${#imgs[@]} -gt 0 ] || imgs=(busybox musl gohttp debian nginx redis memcached sqlite python3 apache2)
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for img in "${imgs[@]}"; do
  d=$cache/$img
  [ -f "$d/index.json" ] || { echo "== $img: not cached (make images), skipped"; continue; }
  echo "== $img"
  for l in $(python3 bench/codec/layers.py "$d"); do gzip -dc "$l"; done | "$w/codec" "$cs"
done
