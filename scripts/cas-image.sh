#!/usr/bin/env bash
# Builds the CAS as a confidential image: scone-cas (static) converted by
# scone-build itself, so that the CAS runs in an enclave, serves a quote of
# that enclave with its CAS ID (GET /v1/id; 'scone-build cas id
# --simulation-key|--collateral --mrenclave' verifies it) and seals its
# store key and identity key to the enclave (--store-key sealed): the host
# holds neither. docs/cas.md, "The CAS in an enclave".
#
#   scripts/cas-image.sh --key SIGNER.pem --fs-key FS.key [--out DIR] [--tag TAG]
#                        [--listen HOST:PORT] [--scone-build FILE] [--cas FILE]
#                        [--recovery-key PUB.pem ... [--recovery-threshold N]]
#
# --key FILE         the enclave signer key (scone-build keygen writes one)
# --fs-key FILE      the FS key of the CAS image itself (its operator's: the
#                    CAS's own secrets are sealed, not in this key)
# --out DIR          OCI layout to (re)create (default bin/cas-image)
# --tag TAG          ref name inside the layout (default scone-cas)
# --listen ADDR      what the CAS listens on (default 0.0.0.0:8443)
# --scone-build FILE use this scone-build instead of bin/scone-build
# --cas FILE         use this static scone-cas instead of building it
# --recovery-key PUB an owner's recovery public key (P-256 or X25519 PEM;
#                    repeatable): placed in the image and named in the
#                    measured command, so the host can neither add nor
#                    change one (docs/cas.md, "Recovery")
# --recovery-threshold N  how many owners recover the state (default all)
#
# Run it with the state directory as a volume (its files are sealed):
#   podman run -v /srv/cas:/var/lib/scone-cas -v FS.key:/run/secrets/fs.key:ro \
#     -e SCONE_FS_KEY_FILE=/run/secrets/fs.key -p 8443:8443 IMAGE
# (in simulation mode also the simulation quote key: SCONE_SIM_QUOTE_KEY_FILE).
# Prints the enclave's MRENCLAVE on stdout. The image is deterministic: the
# same binaries, keys and SOURCE_DATE_EPOCH give the same digest.
set -euo pipefail
cd "$(dirname "$0")/.."

out=bin/cas-image tag=scone-cas listen=0.0.0.0:8443 sb="" casbin="" key="" fskey="" threshold=""
recovery=()
while [ $# -gt 0 ]; do
  case "$1" in
    --key) key=$2; shift 2 ;;
    --fs-key) fskey=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --listen) listen=$2; shift 2 ;;
    --scone-build) sb=$2; shift 2 ;;
    --cas) casbin=$2; shift 2 ;;
    --recovery-key) recovery+=("$2"); shift 2 ;;
    --recovery-threshold) threshold=$2; shift 2 ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "cas-image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$key" ] || [ -z "$fskey" ]; then
  echo "cas-image.sh: --key and --fs-key are required (make them with: bin/scone-build keygen --out-dir keys)" >&2
  exit 2
fi

GO=${GO:-go}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo v0.1.0-dev)}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

if [ -z "$casbin" ]; then
  CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-s -w -buildid= -X github.com/scone-build/scone-build/pkg/version.Version=$VERSION" \
    -o "$w/scone-cas" ./cmd/scone-cas
  casbin=$w/scone-cas
fi
if [ -z "$sb" ]; then
  [ -x bin/scone-build ] || make build >&2
  sb=bin/scone-build
fi

root=$w/root
mkdir -p "$root/usr/bin" "$root/var/lib/scone-cas" "$root/etc"
install -m 0755 "$casbin" "$root/usr/bin/scone-cas"
printf 'root:x:0:0:root:/root:/usr/bin/scone-cas\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
port=${listen##*:}
extra=""
if [ ${#recovery[@]} -gt 0 ]; then
  mkdir -p "$root/etc/scone-cas/recovery"
  for i in "${!recovery[@]}"; do
    install -m 0444 "${recovery[$i]}" "$root/etc/scone-cas/recovery/owner$((i + 1)).pem"
    extra="$extra,\"--recovery-key\",\"/etc/scone-cas/recovery/owner$((i + 1)).pem\""
  done
  [ -z "$threshold" ] || extra="$extra,\"--recovery-threshold\",\"$threshold\""
elif [ -n "$threshold" ]; then
  echo "cas-image.sh: --recovery-threshold without --recovery-key" >&2
  exit 2
fi
cat > "$w/config.json" <<JSON
{"architecture":"amd64","os":"linux","config":{
 "Entrypoint":["/usr/bin/scone-cas","serve","--listen","$listen","--state","/var/lib/scone-cas","--store-key","sealed"$extra],
 "ExposedPorts":{"$port/tcp":{}},"Volumes":{"/var/lib/scone-cas":{}},"WorkingDir":"/"}}
JSON
rm -rf "$out"
"$sb" convert "dir:$root" "oci:$out:$tag" --source-config "$w/config.json" \
  --key "$key" --fs-key "$fskey" --volume /var/lib/scone-cas --json > "$w/report.json"
sed -n 's/.*"mrenclave": *"\([0-9a-f]*\)".*/\1/p' "$w/report.json" | head -1
