#!/bin/sh
# Blocking calls under the mn scheduler (docs/runtime.md, "Posted blocking
# calls"): round trips between two threads through two pipes, where every
# read blocks until the other thread writes (bench/syscall/pingpong.c),
# natively and under scone-run (dev mode, default simulated exit cost of
# 8,000 cycles, the program's system call sites rewritten: the path a
# converted image takes) with one kernel thread per thread (os), with
# user-level threads and the sync transport (mn), and with the async
# transport in each posting mode: 0 (blocking calls made by the calling
# kernel thread, which gives its enclave thread up meanwhile), 1 (the
# default: posted to a host worker while another ULT is runnable and a core
# is spare) and 2 (every blocking call posted, the ULT parked: SCONE's
# design for hosts with cores for its host threads); on two enclave threads
# and on one. Reports ns per round trip (best of 3 rounds, variants
# alternated) and each variant's ratio to native. Run on an idle machine.
#
#   bench/runtime-blocking.sh [scone-run] [round trips] [scone-build]
set -eu
cd "$(dirname "$0")/.."
RUN=${1:-runtime/build/scone-run}
N=${2:-20000}
[ -x "$RUN" ] || { echo "runtime not built: run make runtime" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SB=${3:-}
if [ -z "$SB" ]; then
	CGO_ENABLED=0 go build -o "$tmp/scone-build" ./cmd/scone-build
	SB=$tmp/scone-build
fi
gcc -O2 -static -pthread -o "$tmp/pingpong" bench/syscall/pingpong.c
"$SB" rewrite "$tmp/pingpong" "$tmp/pingpong-rw" >/dev/null

variants="native
os|SCONE_SCHEDULER=os
mn-sync-2|SCONE_SCHEDULER=mn SCONE_THREADS=2
async-post0-2|SCONE_SCHEDULER=mn SCONE_THREADS=2 SCONE_TRANSPORT=async SCONE_ASYNC_POST=0
async-post1-2|SCONE_SCHEDULER=mn SCONE_THREADS=2 SCONE_TRANSPORT=async SCONE_ASYNC_POST=1
async-post2-2|SCONE_SCHEDULER=mn SCONE_THREADS=2 SCONE_TRANSPORT=async SCONE_ASYNC_POST=2
async-post0-1|SCONE_SCHEDULER=mn SCONE_THREADS=1 SCONE_TRANSPORT=async SCONE_ASYNC_POST=0
async-post2-1|SCONE_SCHEDULER=mn SCONE_THREADS=1 SCONE_TRANSPORT=async SCONE_ASYNC_POST=2"

for _ in 1 2 3; do
	echo "$variants" | while IFS='|' read -r name env; do
		if [ "$name" = native ]; then
			v=$("$tmp/pingpong" "$N")
		else
			# shellcheck disable=SC2086 # env holds several assignments
			v=$(env SCONE_MODE=dev SCONE_SIM_EXIT_CYCLES=8000 $env "$RUN" --dev-exec "$tmp/pingpong-rw" "$N")
		fi
		echo "$name $v"
	done
done >"$tmp/res"
awk '
	{ if (!($1 in best) || $2 < best[$1]) best[$1] = $2; if (!seen[$1]++) order[n++] = $1 }
	END {
		printf "pipe round trip between two threads (ns, best of 3 rounds; exit cost 8000 cycles)\n"
		for (i = 0; i < n; i++) {
			k = order[i]
			printf "  %-16s %9d  (x%.1f native)\n", k, best[k], best[k] / best["native"]
		}
	}' "$tmp/res"
