#!/usr/bin/env bash
# Converts every cached input image with fixed keys and prints, per image, the
# output manifest digest, MRENCLAVE and FS root: run it before and after a
# change that must not change outputs (issue 17's "prove it"), and diff.
#
#   scripts/digest-proof.sh KEYDIR [SCONE_BUILD]   (KEYDIR made once by
#   'scone-build keygen --out-dir KEYDIR'; reuse it for both runs). Build both
#   binaries with the same version (make build VERSION=proof): the version is
#   a label of every output image, and git describe differs between commits.
set -euo pipefail
keys=${1:?usage: scripts/digest-proof.sh KEYDIR [SCONE_BUILD]}
sb=${2:-bin/scone-build}
cache=${SCONE_IMAGE_CACHE:-$HOME/.cache/scone-build/images}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for d in "$cache"/*/; do
  n=$(basename "$d")
  [ -f "$d/index.json" ] || continue
  SOURCE_DATE_EPOCH=1700000000 "$sb" convert "oci:$d:latest" "oci:$work/$n:latest" \
    --key "$keys/signer.pem" --fs-key "$keys/fs.key" --json >"$work/$n.json" 2>/dev/null ||
    { echo "$n convert failed" >&2; continue; }
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sys.argv[2], r["digest"], r["mrenclave"], r["fs_root"])' "$work/$n.json" "$n"
  rm -rf "${work:?}/$n"
done
