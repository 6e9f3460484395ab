#!/usr/bin/env bash
# Server throughput, converted vs native, measured in one run (the SCONE
# paper's comparison: its Apache/Nginx/Redis/Memcached ran at 0.6-1.2x native).
# Each server image of `make images` is run natively and converted three
# times (sim mode, default simulated exit cost): with the default sync
# transport, with `--transport async` (host worker threads serve the calls
# that may go async; SCONE_ASYNC_WORKERS from the environment is passed to
# the container), and with `--transport async --scheduler mn` (the
# application's threads as user-level threads on the enclave threads),
# under podman on loopback; load comes from wrk / redis-benchmark / memcslap,
# bounded in time.
#
# nginx-tls: the network shield (docs/net-shield.md). Native nginx
# terminating TLS itself (OpenSSL, its own ssl configuration) against the
# converted nginx whose plain port 80 is wrapped by --tls-port 80: the same
# ECDSA P-256 certificate, TLS 1.2, ECDHE (X25519) with the same AES-GCM
# cipher, no session resumption on either side. Two loads: keep-alive
# (requests/s) and "Connection: close" (every request a new TCP connection
# and a full handshake: new handshakes/s).
#
# postgres: the database with its data directory on a host directory,
# natively, against the converted image with that directory a protected
# volume (--protected-volume: every page encrypted, authenticated and
# fsynced through the volume shield); pgbench (from the native image, host
# network) initializes scale 2 and runs 4 clients on 2 threads for the
# duration: transactions per second.
#   bench/servers.sh [scone-build] [seconds]
#   SERVERS="nginx-tls" bench/servers.sh     (default: nginx redis memcached nginx-tls postgres)
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
cleanup() { podman rm -f -t 2 sb-native sb-scone sb-async sb-mn >/dev/null 2>&1 || true; rm -rf "$w"; }
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

SERVERS=${SERVERS:-nginx redis memcached nginx-tls postgres}
plain=$(for s in $SERVERS; do case $s in nginx-tls | postgres) ;; *) echo "$s" ;; esac; done)
[ -z "$plain" ] || printf '%-10s %14s %14s %8s %14s %8s %14s %8s\n' server "native req/s" "sync req/s" ratio "async req/s" ratio "async+mn req/s" ratio
for srv in $plain; do
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
  "$SB" convert "oci:$CACHE/$srv:latest" "docker-archive:$w/$srv-mn.tar:localhost/sb/$srv:scone-mn" \
     --key "$w/keys/signer.pem" --fs-key "$w/keys/fs.key" --transport async --scheduler mn >/dev/null
  podman load -q -i "$w/$srv.tar" >/dev/null
  podman load -q -i "$w/$srv-async.tar" >/dev/null
  podman load -q -i "$w/$srv-mn.tar" >/dev/null
  start sb-native "$nid" "$cport"
  n=$(load "$srv"); podman rm -f -t 2 sb-native >/dev/null
  start sb-scone "localhost/sb/$srv:scone" "$cport" -v "$w/keys/fs.key:/k:ro" -e SCONE_FS_KEY_FILE=/k
  s=$(load "$srv"); podman rm -f -t 2 sb-scone >/dev/null
  start sb-async "localhost/sb/$srv:scone-async" "$cport" -v "$w/keys/fs.key:/k:ro" -e SCONE_FS_KEY_FILE=/k \
     ${SCONE_ASYNC_WORKERS:+-e SCONE_ASYNC_WORKERS=$SCONE_ASYNC_WORKERS}
  a=$(load "$srv"); podman rm -f -t 2 sb-async >/dev/null
  start sb-mn "localhost/sb/$srv:scone-mn" "$cport" -v "$w/keys/fs.key:/k:ro" -e SCONE_FS_KEY_FILE=/k \
     ${SCONE_ASYNC_WORKERS:+-e SCONE_ASYNC_WORKERS=$SCONE_ASYNC_WORKERS}
  m=$(load "$srv"); podman rm -f -t 2 sb-mn >/dev/null
  podman rmi -f "localhost/sb/$srv:scone" "localhost/sb/$srv:scone-async" "localhost/sb/$srv:scone-mn" >/dev/null 2>&1 || true
  awk -v x="$srv" -v n="$n" -v s="$s" -v a="$a" -v m="$m" 'BEGIN { printf "%-10s %14.0f %14.0f %7.2fx %14.0f %7.2fx %14.0f %7.2fx\n", x, n, s, (n > 0 ? s / n : 0), a, (n > 0 ? a / n : 0), m, (n > 0 ? m / n : 0) }'
done

# ---- postgres: pgbench against a data directory on a protected volume ----
bench_postgres() {
  [ -d "$CACHE/postgres" ] || { echo "postgres: image absent, run: make images IMAGES=postgres"; return; }
  ln -sfn "$CACHE/postgres" "$w/postgres-layout"
  local nid user n s
  nid=$(cd "$w" && podman pull -q "oci:postgres-layout:latest")
  user=$(podman inspect --format '{{.Config.User}}' "$nid")
  "$SB" convert "oci:$CACHE/postgres:latest" "docker-archive:$w/postgres.tar:localhost/sb/postgres:scone" \
     --key "$w/keys/signer.pem" --fs-key "$w/keys/fs.key" --protected-volume /var/lib/postgresql/data >/dev/null
  podman load -q -i "$w/postgres.tar" >/dev/null
  mkdir -p "$w/pg-native" "$w/pg-scone"
  chown "$user" "$w/pg-native" && chmod 700 "$w/pg-native" # natively the data directory is the user's
  chmod 777 "$w/pg-scone"                                   # converted it holds the volume's host files
  pgbench() { podman run --rm --network host "$nid" pgbench -h 127.0.0.1 -p "$port" -U postgres "$@"; }
  ready() { for _ in $(seq 300); do pgbench -i -s 2 -q postgres >/dev/null 2>&1 && return 0; sleep 0.3; done; return 1; }
  run_one() { # NAME IMAGE DIR [podman args...]
    local name=$1 img=$2 dir=$3; shift 3
    podman rm -f -t 2 "$name" >/dev/null 2>&1 || true
    podman run -d --name "$name" -p "127.0.0.1:$port:5432" -v "$dir:/var/lib/postgresql/data" "$@" "$img" >/dev/null
    ready || { echo "postgres ($name) did not come up" >&2; podman logs "$name" >&2; return 1; }
    pgbench -c 4 -j 2 -T "$DUR" postgres 2>/dev/null | awk '/^tps/ {print $3}'
    podman rm -f -t 10 "$name" >/dev/null
  }
  n=$(run_one sb-native "$nid" "$w/pg-native")
  s=$(run_one sb-scone localhost/sb/postgres:scone "$w/pg-scone" -v "$w/keys/fs.key:/k:ro" -e SCONE_FS_KEY_FILE=/k)
  podman rmi -f localhost/sb/postgres:scone >/dev/null 2>&1 || true
  echo "postgres: pgbench -c 4 -j 2, scale 2, native on a host directory vs converted on a protected volume"
  printf '%-22s %14s %14s %8s\n' load native converted ratio
  awk -v n="$n" -v s="$s" 'BEGIN { printf "%-22s %14.0f %14.0f %7.2fx\n", "transactions/s", n, s, (n > 0 ? s / n : 0) }'
}
case " $SERVERS " in *" postgres "*) bench_postgres ;; esac

# ---- nginx-tls: the network shield against nginx's own TLS ----
case " $SERVERS " in *" nginx-tls "*) ;; *) exit 0 ;; esac
[ -d "$CACHE/nginx" ] || { echo "nginx-tls: image absent, run: make images IMAGES=nginx"; exit 0; }
ctx="$w/nginx-tls"
mkdir -p "$ctx/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$ctx/tls/server.key" -out "$ctx/tls/server.pem" 2>/dev/null
chmod 644 "$ctx/tls/server.key" # the bench's throw-away key: nginx's workers (www-data) read it natively
# What both servers negotiate with wrk's OpenSSL: the client's first choice
# (BearSSL and nginx follow the client's order); nginx is held to it.
cipher=ECDHE-ECDSA-AES256-GCM-SHA384
cat > "$ctx/tls.conf" <<CONF
server {
    listen 443 ssl;
    ssl_certificate /etc/tls/server.pem;
    ssl_certificate_key /etc/tls/server.key;
    ssl_protocols TLSv1.2;
    ssl_ciphers $cipher;
    ssl_ecdh_curve X25519;
    ssl_session_cache off;
    ssl_session_tickets off;
    root /var/www/html;
    index index.html index.htm index.nginx-debian.html;
}
CONF
ln -sfn "$CACHE/nginx" "$w/nginx-layout"
nid=$(cd "$w" && podman pull -q "oci:nginx-layout:latest")
# The image with the certificate, as a Dockerfile's COPY makes it.
printf 'FROM %s\nCOPY tls /etc/tls\n' "$nid" > "$ctx/Containerfile"
podman build -q -t localhost/sb/nginx-tls-src "$ctx" >/dev/null
podman save -q -o "$w/nginx-tls-src.tar" localhost/sb/nginx-tls-src
"$SB" convert "docker-archive:$w/nginx-tls-src.tar" "docker-archive:$w/nginx-tls.tar:localhost/sb/nginx-tls:scone" \
   --key "$w/keys/signer.pem" --fs-key "$w/keys/fs.key" --tls-port 80 --tls-cert /etc/tls/server.pem --tls-key /etc/tls/server.key >/dev/null
podman load -q -i "$w/nginx-tls.tar" >/dev/null

tls_load() { # URL ["close"] -> requests per second
  if [ "${2:-}" = close ]; then
    wrk -t2 -c32 -d"${DUR}s" -H "Connection: close" "$1" | awk '/Requests\/sec/ {print $2}'
  else
    wrk -t2 -c32 -d"${DUR}s" "$1" | awk '/Requests\/sec/ {print $2}'
  fi
}
negotiated() { # URL -> the protocol and cipher the server chose
  openssl s_client -connect "${1#https://}" -servername localhost </dev/null 2>/dev/null |
    awk '/^ *Protocol *:/ {p=$3} /^ *Cipher *:/ {c=$3} END {print p, c}'
}
start sb-native localhost/sb/nginx-tls-src 443 -v "$ctx/tls.conf:/etc/nginx/conf.d/tls.conf:ro"
nneg=$(negotiated "127.0.0.1:$port"); nk=$(tls_load "https://127.0.0.1:$port/"); nc=$(tls_load "https://127.0.0.1:$port/" close)
podman rm -f -t 2 sb-native >/dev/null
start sb-scone localhost/sb/nginx-tls:scone 80 -v "$w/keys/fs.key:/k:ro" -e SCONE_FS_KEY_FILE=/k
sneg=$(negotiated "127.0.0.1:$port"); sk=$(tls_load "https://127.0.0.1:$port/"); sc=$(tls_load "https://127.0.0.1:$port/" close)
podman rm -f -t 2 sb-scone >/dev/null
podman rmi -f localhost/sb/nginx-tls:scone localhost/sb/nginx-tls-src >/dev/null 2>&1 || true
echo "nginx-tls: native nginx + OpenSSL ($nneg) vs converted nginx + network shield ($sneg)"
printf '%-22s %14s %14s %8s\n' load native shielded ratio
awk -v n="$nk" -v s="$sk" 'BEGIN { printf "%-22s %14.0f %14.0f %7.2fx\n", "keep-alive req/s", n, s, (n > 0 ? s / n : 0) }'
awk -v n="$nc" -v s="$sc" 'BEGIN { printf "%-22s %14.0f %14.0f %7.2fx\n", "new handshakes/s", n, s, (n > 0 ? s / n : 0) }'
