#!/bin/sh
# Elliptic-curve cost of a TLS handshake: the runtime's 64-bit curve code
# (runtime/lib/x25519.c, p256.c behind ecfast.c) against the build's BearSSL
# (Debian's, 31-bit code only), per operation, best of 3 rounds, both built
# as the runtime builds its library (-O2) in one program, so the ratios are
# comparable. The host test test_ecfast checks the results; this only times.
#
#   bench/tls-ec.sh
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
BEARSSL_A=${BEARSSL_A:-/usr/lib/x86_64-linux-gnu/libbearssl.a}
[ -f "$BEARSSL_A" ] || { echo "BearSSL not found: run scripts/setup.sh (libbearssl-dev)" >&2; exit 1; }
cat > "$tmp/alloc.c" <<'C'
#include <stdlib.h>
#include "rt_alloc.h"
void *rt_malloc(size_t n) { return malloc(n); }
void *rt_calloc(size_t n, size_t s) { return calloc(n, s); }
void rt_free(void *p) { free(p); }
C
gcc -std=c11 -O2 -D_GNU_SOURCE -Iruntime/lib -Iruntime/include -o "$tmp/ec" runtime/tests/test_ecfast.c \
	runtime/lib/ecfast.c runtime/lib/x25519.c runtime/lib/p256.c "$tmp/alloc.c" "$BEARSSL_A"
"$tmp/ec" bench
