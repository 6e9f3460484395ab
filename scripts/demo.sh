#!/usr/bin/env bash
# make demo: build the bundled example image, convert it, verify it, and run
# the original and the converted image with podman; their output must match.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${DEMO_DIR:-out/demo}
SB=bin/scone-build
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
mkdir -p "$OUT"

step "1. make the input image (busybox base layer + app layer) -> $OUT/hello (OCI layout)"
rm -rf "$OUT/hello" "$OUT/rootfs-base" "$OUT/rootfs-app"
mkdir -p "$OUT/rootfs-base/bin" "$OUT/rootfs-base/tmp" "$OUT/rootfs-app"
cp /bin/busybox "$OUT/rootfs-base/bin/busybox"
for a in sh cat echo tr sort sed wc id pwd uname ls; do ln -sf busybox "$OUT/rootfs-base/bin/$a"; done
chmod 1777 "$OUT/rootfs-base/tmp"
cp -r examples/hello/app "$OUT/rootfs-app/app"
go run ./images/mkimage -out "$OUT/hello" -config examples/hello/config.json -tag latest \
  -layer "dir:$OUT/rootfs-base" -layer "dir:$OUT/rootfs-app"

step "2. keys (made once): enclave signer (RSA-3072, e=3) and FS key"
[ -f "$OUT/keys/signer.pem" ] || $SB keygen --out-dir "$OUT/keys"

step "3. check the image before converting"
$SB check "oci:$OUT/hello:latest"

step "4. convert"
rm -f "$OUT/hello-scone.tar"
$SB convert "oci:$OUT/hello:latest" "docker-archive:$OUT/hello-scone.tar:localhost/scone-demo/hello:scone" \
  --key "$OUT/keys/signer.pem" --fs-key "$OUT/keys/fs.key"

step "5. inspect and verify offline"
$SB inspect "docker-archive:$OUT/hello-scone.tar"
$SB verify "docker-archive:$OUT/hello-scone.tar" --fs-key "$OUT/keys/fs.key"
if tar -xOf "$OUT/hello-scone.tar" | zcat -f 2>/dev/null | grep -aq MARKER-SECRET-4a1c; then
  echo "demo: FAIL: plaintext of app/secret.txt found in the converted image" >&2; exit 1
fi
echo "no plaintext of the secret in any layer"

step "6. run the original and the converted image with podman"
if ! command -v podman >/dev/null; then
  echo "demo: podman is not installed (run scripts/setup.sh); stopping before the run step" >&2; exit 1
fi
. scripts/podman-env.sh
native_id=$(podman pull -q "oci:$OUT/hello:latest")
podman load -q -i "$OUT/hello-scone.tar" >/dev/null
run() { podman run --rm --network none "$@"; }
native=$(run "$native_id" 2>&1 || true)
converted=$(run -v "$PWD/$OUT/keys/fs.key:/run/secrets/scone-fs-key:ro" -e SCONE_FS_KEY_FILE=/run/secrets/scone-fs-key \
  localhost/scone-demo/hello:scone 2>&1 || true)
echo "--- native"; echo "$native"
echo "--- converted (inside the simulated enclave)"; echo "$converted"
if [ "$native" = "$converted" ]; then
  echo; echo "demo: OK: the converted image's output is byte-identical to the original's"
else
  echo; echo "demo: FAIL: outputs differ" >&2; exit 1
fi
