#!/bin/sh
# Builds the runtime binaries into $1 (runtime/build) and copies them to
# pkg/runtimebin/bin for embedding. Called by `make runtime` (runtime.mk),
# which passes RT_CFLAGS, RT_LDFLAGS and BEARSSL_A.
#
#   scone-run   freestanding, static, non-PIE, linked at 0x7e0000000000 (see
#               docs/runtime.md: its text is the Syscall User Dispatch exempt
#               range); runtime/src/*.c|*.S + runtime/lib/*.c + BearSSL.
#   scone-host  ordinary static host tool (libc): runtime/src/host/*.c.
#
# RT_CORE_ONLY=1 builds the runtime core without the shields (runtime/src/fs_*.c,
# console_shield.c, net_*.c), i.e. with the weak no-shield fallbacks, into
# $1 without copying to pkg/runtimebin (developer aid for testing the core).
set -eu
OUT=${1:-runtime/build}
CC=${CC:-gcc}
: "${RT_CFLAGS:?RT_CFLAGS not set (run via make runtime)}"
: "${RT_LDFLAGS:?}"
: "${BEARSSL_A:?}"
RT_TEXT_ADDR=0x7e0000000000

mkdir -p "$OUT/obj/src" "$OUT/obj/lib" "$OUT/obj/host"
objs=""
for f in $(ls runtime/src/*.c runtime/src/*.S 2>/dev/null | LC_ALL=C sort); do
	if [ "${RT_CORE_ONLY:-0}" = 1 ]; then
		case "$(basename "$f")" in fs_*|console_shield.c|net_*) continue ;; esac
	fi
	o="$OUT/obj/src/$(basename "$f").o"
	# shellcheck disable=SC2086
	$CC $RT_CFLAGS -Iruntime/src -c "$f" -o "$o"
	objs="$objs $o"
done
for f in $(ls runtime/lib/*.c 2>/dev/null | LC_ALL=C sort); do
	o="$OUT/obj/lib/$(basename "$f").o"
	# shellcheck disable=SC2086
	$CC $RT_CFLAGS -c "$f" -o "$o"
	objs="$objs $o"
done
# shellcheck disable=SC2086
$CC $RT_LDFLAGS -Wl,-Ttext-segment=$RT_TEXT_ADDR -Wl,-z,max-page-size=4096 -Wl,--no-relax -Wl,-e,_start \
	-o "$OUT/scone-run" $objs "$BEARSSL_A" -lgcc

hobjs=""
for f in $(ls runtime/src/host/*.c 2>/dev/null | LC_ALL=C sort); do
	o="$OUT/obj/host/$(basename "$f").o"
	$CC -std=c11 -Wall -Wextra -Werror -O2 -g0 -D_GNU_SOURCE -ffile-prefix-map="$PWD"=. -c "$f" -o "$o"
	hobjs="$hobjs $o"
done
if [ -n "$hobjs" ]; then
	# shellcheck disable=SC2086
	$CC -static -Wl,--build-id=none -o "$OUT/scone-host" $hobjs
fi

if [ "${RT_CORE_ONLY:-0}" = 1 ]; then
	echo "runtime: built core-only (no shields) $OUT/scone-run"
	exit 0
fi
mkdir -p pkg/runtimebin/bin
cp "$OUT/scone-run" pkg/runtimebin/bin/scone-run
[ -f "$OUT/scone-host" ] && cp "$OUT/scone-host" pkg/runtimebin/bin/scone-host
echo "runtime: built $OUT/scone-run${hobjs:+ and $OUT/scone-host}"
