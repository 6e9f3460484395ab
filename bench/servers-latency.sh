#!/usr/bin/env bash
# Latency against throughput (the SCONE paper's evaluation, its Figures for
# Apache, Nginx, Redis and Memcached): each server natively, converted with
# synchronous calls, and converted with asynchronous calls on user-level
# threads (`--transport async --scheduler mn`), offered a fixed request rate
# by an open-loop generator (bench/loadgen: latency counted from when each
# request was due, as wrk2 does) at fractions of the native peak, with the
# CPU time the server's container used (its cgroup's cpu.stat). One run;
# rates, latencies and CPU go to a data file per server, and
# bench/plot-latency.sh draws p99 and median latency and the CPU against
# achieved throughput as PNG.
#
# The generator shares the 2 cores with the server. PIN=1 pins it to core 1
# and the server's container to core 0 (taskset, podman --cpuset-cpus): the
# server then has one core of its own, as on a machine with spare cores
# for the client, and the async workers compete with the enclave threads.
#
#   bench/servers-latency.sh [scone-build] [seconds per point] [out dir]
#   SERVERS="redis" PIN=1 bench/servers-latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SB=${1:-bin/scone-build}
DUR=${2:-3}
OUT=${3:-docs/img}
CACHE=${SCONE_IMAGE_CACHE:-$HOME/.cache/scone-build/images}
SERVERS=${SERVERS:-nginx redis memcached}
FRACTIONS=${FRACTIONS:-0.1 0.25 0.4 0.55 0.7 0.85 1.0 1.15}
CONNS=${CONNS:-16}
PIN=${PIN:-0}
[ -x "$SB" ] || { echo "build first: make build" >&2; exit 1; }
. scripts/podman-env.sh
w=$(mktemp -d)
cleanup() { podman rm -f -t 2 sb-lat >/dev/null 2>&1 || true; rm -rf "$w"; }
trap cleanup EXIT
CGO_ENABLED=0 go build -o "$w/loadgen" ./bench/loadgen
"$SB" keygen --out-dir "$w/keys" >/dev/null
chmod 644 "$w/keys/fs.key" # the runtime reads it as the image's user
mkdir -p "$OUT"
port=18082
gen=("$w/loadgen")
cpuset=()
suffix=""
if [ "$PIN" = 1 ]; then
  gen=(taskset -c 1 "$w/loadgen")
  cpuset=(--cpuset-cpus 0)
  suffix="-pinned"
fi

start() { # IMAGE CPORT [podman args...]
  local img=$1 cport=$2; shift 2
  podman rm -f -t 2 sb-lat >/dev/null 2>&1 || true
  podman run -d --name sb-lat "${cpuset[@]}" -p "127.0.0.1:$port:$cport" "$@" "$img" >/dev/null
  for _ in $(seq 150); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && sleep 0.5 && return 0; sleep 0.2
  done
  echo "server $img did not come up" >&2; podman logs sb-lat >&2; return 1
}

cpu_usec() { # the container's CPU time so far (cgroup v1 cpuacct, or v2)
  local pid cg d
  pid=$(podman inspect -f '{{.State.Pid}}' sb-lat)
  cg=$(awk -F: '$2 ~ /(^|,)cpuacct(,|$)/ {print $3; exit}' "/proc/$pid/cgroup")
  if [ -n "$cg" ]; then
    for d in /sys/fs/cgroup/cpuacct /sys/fs/cgroup/cpu,cpuacct; do
      [ -r "$d$cg/cpuacct.usage" ] && { awk '{printf "%d\n", $1 / 1000}' "$d$cg/cpuacct.usage"; return; }
    done
  fi
  cg=$(awk -F: '$1 == "0" {print $3}' "/proc/$pid/cgroup")
  awk '/^usage_usec/ {print $2}' "/sys/fs/cgroup$cg/cpu.stat"
}

point() { # PROTO RATE -> "offered achieved p50 p90 p99 p999 max errors cores"
  local c0 c1 t0 t1 r
  c0=$(cpu_usec); t0=$(date +%s%N)
  r=$("${gen[@]}" -proto "$1" -addr "127.0.0.1:$port" -rate "$2" -conns "$CONNS" -duration "${DUR}s")
  c1=$(cpu_usec); t1=$(date +%s%N)
  # CPU over the generator's whole run (warm-up, window, the backlog's grace)
  awk -v r="$r" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%s %.2f\n", r, (c1 - c0) * 1e3 / (t1 - t0) }'
}

for srv in $SERVERS; do
  [ -d "$CACHE/$srv" ] || { echo "$srv: image absent, run: make images IMAGES=$srv"; continue; }
  case $srv in nginx) cport=80 proto=http ;; redis) cport=6379 proto=redis ;; memcached) cport=11211 proto=memcached ;; esac
  ln -sfn "$CACHE/$srv" "$w/$srv-layout"
  nid=$(cd "$w" && podman pull -q "oci:$srv-layout:latest")
  "$SB" convert "oci:$CACHE/$srv:latest" "docker-archive:$w/$srv-sync.tar:localhost/sb/$srv:lat-sync" \
    --key "$w/keys/signer.pem" --fs-key "$w/keys/fs.key" >/dev/null
  "$SB" convert "oci:$CACHE/$srv:latest" "docker-archive:$w/$srv-mn.tar:localhost/sb/$srv:lat-mn" \
    --key "$w/keys/signer.pem" --fs-key "$w/keys/fs.key" --transport async --scheduler mn >/dev/null
  podman load -q -i "$w/$srv-sync.tar" >/dev/null
  podman load -q -i "$w/$srv-mn.tar" >/dev/null
  key=(-v "$w/keys/fs.key:/k:ro" -e SCONE_FS_KEY_FILE=/k)
  # the native peak (closed loop) sets the offered rates for all three
  start "$nid" "$cport"
  peak=$("${gen[@]}" -proto "$proto" -addr "127.0.0.1:$port" -conns "$CONNS" -duration "${DUR}s" | awk '{print $2}')
  data="$OUT/latency-$srv$suffix.dat"
  {
    echo "# $srv: $(date -u +%FT%TZ), native closed-loop peak $peak req/s, $CONNS connections, ${DUR}s per point, PIN=$PIN"
    echo "# config offered achieved p50_us p90_us p99_us p999_us max_us errors cores"
  } >"$data"
  for cfg in native sync async-mn; do
    case $cfg in
      native) img=$nid args=() ;;
      sync) img=localhost/sb/$srv:lat-sync args=("${key[@]}") ;;
      async-mn) img=localhost/sb/$srv:lat-mn args=("${key[@]}") ;;
    esac
    [ "$cfg" = native ] || start "$img" "$cport" "${args[@]}"
    for f in $FRACTIONS; do
      rate=$(awk -v p="$peak" -v f="$f" 'BEGIN { printf "%.0f", p * f }')
      echo "$cfg $(point "$proto" "$rate")" >>"$data"
    done
    echo "" >>"$data"; echo "" >>"$data" # a gnuplot data set per config
    podman rm -f -t 2 sb-lat >/dev/null
  done
  podman rmi -f "localhost/sb/$srv:lat-sync" "localhost/sb/$srv:lat-mn" >/dev/null 2>&1 || true
  cat "$data"
  title="$srv: latency and CPU against throughput (open loop, $CONNS connections"
  [ "$PIN" = 1 ] && title="$title, server on core 0, load on core 1"
  sh bench/plot-latency.sh "$data" "$OUT/latency-$srv$suffix.png" "$title)"
  echo "wrote $OUT/latency-$srv$suffix.png"
done
