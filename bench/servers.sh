#!/usr/bin/env bash
# Server throughput, converted vs native, measured in one run (the SCONE
# paper's comparison: its Apache/Nginx/Redis/Memcached ran at 0.6-1.2x native).
# Each server image of `make images` is run natively and converted twice (sim
# mode, default simulated exit cost): with the default sync transport and
# with `--transport async` (host worker threads serve the calls that may go
# async; SCONE_ASYNC_WORKERS from the environment is passed to the container),
# under podman on loopback; load comes from wrk / redis-benchmark / memcslap,
# bounded in time.
#   bench/servers.sh [scone-build] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
SB=${1:-bin/scone-build}
DUR=${2:-5}
CACHE=${SCONE_IMAGE_CACHE:-$HOME/.cache/scone-build/images}
[ -x "$SB" ] || { echo "build first: make build" >&2; exit 1; }
for t in wrk redis-benchmark memcslap; do
  command -v $t >/dev/null || apt-get install -y -qq wrk redis-tools libmemcached-tools >/dev/null
done
. scripts/podman-env.sh
w=$(mktemp -d)
cleanup() { podman rm -f -t 2 sb-native sb-scone >/dev/null 2>&1 || true; rm -rf "$w"; }
trap cleanup EXIT
"$SB" keygen --out-dir "$w/keys" >/dev/null
# The runtime reads the key as the image's user (redis: uid 999).
chmod 644 "$w/keys/fs.key"
port=18081

start() { # NAME IMAGE CPORT [podman args...]
  local name=$1 img=$2 cport=$3; shift 3
  podman rm -f -t 2 "$name" >/dev/null 2>&1 || true
  podman run -d --name "$name" -p "127.0.0.1:$port:$cport" "$@" "$img" >/dev/null
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && return 0; sleep 0.2
  done
  echo "server $name did not come up" >&2; podman logs "$name" >&2; return 1
}

load() { # KIND -> requests per second
  case $1 in
    nginx) wrk -t2 -c32 -d"${DUR}s" "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}' ;;
    redis) redis-benchmark -p $port -q -n 1000000 -t get,set -c 32 -P 1 --csv 2>/dev/null & pid=$!
           sleep "$DUR"; kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
           redis-benchmark -p $port -t get -n 50000 -c 32 -q --csv 2>/dev/null | awk -F, 'NR>1 || /GET/ {gsub(/"/,"",$2); print $2; exit}' ;;
    memcached) memcslap --servers=127.0.0.1:$port --concurrency=32 --execute-number=5000 --test=get 2>&1 |
               awk '/Time to get/ {n=$4; t=$(NF-1)} END {if (t>0) printf "%.0f\n", n/t}' ;;
  esac
}

printf '%-10s %14s %14s %8s %14s %8s\n' server "native req/s" "sync req/s" ratio "async req/s" ratio
for srv in nginx redis memcached; do
  [ -d "$CACHE/$srv" ] || { echo "$srv: image absent, run: make images IMAGES=$srv"; continue; }
  case $srv in nginx) cport=80 ;; redis) cport=6379 ;; memcached) cport=11211 ;; esac
  # podman names a pulled layout after its path, which must be a valid
  # lower-case reference: pull through a symlink with a plain name.
  ln -sfn "$CACHE/$srv" "$w/$srv-layout"
  nid=$(cd "$w" && podman pull -q "oci:$srv-layout:latest")
  "$SB" convert "oci:$CACHE/$srv:latest" "docker-archive:$w/$srv.tar:localhost/sb/$srv:scone" \
     --key "$w/keys/signer.pem" --fs-key "$w/keys/fs.key" >/dev/null
  "$SB" convert "oci:$CACHE/$srv:latest" "docker-archive:$w/$srv-async.tar:localhost/sb/$srv:scone-async" \
     --key "$w/keys/signer.pem" --fs-key "$w/keys/fs.key" --transport async >/dev/null
  podman load -q -i "$w/$srv.tar" >/dev/null
  podman load -q -i "$w/$srv-async.tar" >/dev/null
  start sb-native "$nid" "$cport"
  n=$(load "$srv"); podman rm -f -t 2 sb-native >/dev/null
  start sb-scone "localhost/sb/$srv:scone" "$cport" -v "$w/keys/fs.key:/k:ro" -e SCONE_FS_KEY_FILE=/k
  s=$(load "$srv"); podman rm -f -t 2 sb-scone >/dev/null
  start sb-async "localhost/sb/$srv:scone-async" "$cport" -v "$w/keys/fs.key:/k:ro" -e SCONE_FS_KEY_FILE=/k \
     ${SCONE_ASYNC_WORKERS:+-e SCONE_ASYNC_WORKERS=$SCONE_ASYNC_WORKERS}
  a=$(load "$srv"); podman rm -f -t 2 sb-async >/dev/null
  awk -v x="$srv" -v n="$n" -v s="$s" -v a="$a" 'BEGIN { printf "%-10s %14.0f %14.0f %7.2fx %14.0f %7.2fx\n", x, n, s, (n > 0 ? s / n : 0), a, (n > 0 ? a / n : 0) }'
done
