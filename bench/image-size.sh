#!/usr/bin/env bash
# Converted image size over source image size (compressed layer bytes, what
# a registry stores and a pull transfers) and peak memory of `convert`, per
# FS compression (none; lz4 without and with the image dictionary, the
# default; lz4hc with it), for every cached real image (make images);
# issue 16.
#   bench/image-size.sh [scone-build] [image ...]
set -euo pipefail
cd "$(dirname "$0")/.."
SB=${1:-bin/scone-build}
shift || true
[ -x "$SB" ] || { echo "build first: make build" >&2; exit 1; }
cache=${SCONE_IMAGE_CACHE:-$HOME/.cache/scone-build/images}
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
"$SB" keygen --out-dir "$w/keys" >/dev/null
imgs=("$@")
[ ${#imgs[@]} -gt 0 ] || imgs=(busybox musl gohttp debian nginx redis memcached sqlite python3 apache2)
layers() { python3 - "$1" <<'PY'
import json, os, sys
d = sys.argv[1]
idx = json.load(open(os.path.join(d, "index.json")))
blob = lambda dg: os.path.join(d, "blobs", *dg.split(":"))
m = json.load(open(blob(idx["manifests"][0]["digest"])))
print(sum(l["size"] for l in m["layers"]))
PY
}
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %12s %24s %24s %24s %24s\n' image "in (bytes)" "none: out/in, MB RSS" "lz4 nodict: out/in, RSS" "lz4: out/in, MB RSS" "lz4hc: out/in, MB RSS"
for img in "${imgs[@]}"; do
  d=$cache/$img
  [ -f "$d/index.json" ] || { echo "$img: not cached (make images), skipped"; continue; }
  in=$(layers "$d")
  row=$(printf '%-10s %12d' "$img" "$in")
  for v in none lz4/none lz4/image lz4hc/image; do
    c=${v%/*} dict=${v#*/}
    [ "$v" = none ] && dict=none
    rm -rf "$w/out"
    /usr/bin/time -f '%M' -o "$w/rss" "$SB" convert "oci:$d" "oci:$w/out:latest" --key "$w/keys/signer.pem" \
      --fs-key "$w/keys/fs.key" --fs-compression "$c" --fs-dictionary "$dict" --force >/dev/null 2>"$w/err" || { cat "$w/err" >&2; exit 1; }
    out=$(layers "$w/out")
    row+=$(awk -v o="$out" -v i="$in" -v r="$(cat "$w/rss")" 'BEGIN { printf " %17.3f %6.0f", o / i, r / 1024 }')
  done
  echo "$row"
done
