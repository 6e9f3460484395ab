#!/bin/sh
# Runtime syscall-interception benchmark: per-call cost of getppid natively
# and under scone-run (dev mode, no shields needed for getppid) with the
# simulated enclave-exit cost off and at its default (8000 cycles), with the
# sync transport and with the async one (SCONE_TRANSPORT=async: host worker
# threads serve the call, no exit while a worker spins), measured in one run
# so the ratios are comparable (timings on shared machines are noisy; the best
# of several rounds is reported). SCONE_ASYNC_WORKERS is passed through.
# The same program with its system call sites rewritten (scone-build rewrite,
# docs/rewrite.md) runs through the runtime's fast path, and with the fast
# path off (SCONE_FASTPATH=0: its stubs' syscalls trap).
#
#   bench/runtime-syscall.sh [scone-run] [calls per round] [scone-build]
set -eu
cd "$(dirname "$0")/.."
RUN=${1:-runtime/build/scone-run}
N=${2:-100000}
[ -x "$RUN" ] || { echo "runtime not built: run make runtime" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SB=${3:-}
if [ -z "$SB" ]; then
	CGO_ENABLED=0 go build -o "$tmp/scone-build" ./cmd/scone-build
	SB=$tmp/scone-build
fi
gcc -O2 -o "$tmp/getppid" bench/syscall/getppid.c
gcc -O2 -static -o "$tmp/getppid-static" bench/syscall/getppid.c
"$SB" rewrite "$tmp/getppid-static" "$tmp/getppid-rw" >/dev/null
gcc -O2 -static -o "$tmp/brk0-static" bench/syscall/brk0.c
"$SB" rewrite "$tmp/brk0-static" "$tmp/brk0-rw" >/dev/null
gcc -O2 -o "$tmp/sud" bench/syscall/sud_baseline.c

native=$("$tmp/getppid" "$N")
bare=$("$tmp/sud" "$N")
trap0=$(SCONE_MODE=dev SCONE_SIM_EXIT_CYCLES=0 "$RUN" --dev-exec "$tmp/getppid" "$N")
trap8k=$(SCONE_MODE=dev SCONE_SIM_EXIT_CYCLES=8000 "$RUN" --dev-exec "$tmp/getppid" "$N")
novdso=$(SCONE_MODE=dev SCONE_SIM_EXIT_CYCLES=0 SCONE_VDSO=0 "$RUN" --dev-exec "$tmp/getppid" "$N")
async0=$(SCONE_MODE=dev SCONE_TRANSPORT=async SCONE_SIM_EXIT_CYCLES=0 "$RUN" --dev-exec "$tmp/getppid" "$N")
async8k=$(SCONE_MODE=dev SCONE_TRANSPORT=async SCONE_SIM_EXIT_CYCLES=8000 SCONE_STATS=1 "$RUN" --dev-exec "$tmp/getppid" "$N" 2>"$tmp/stats")
nstatic=$("$tmp/getppid-static" "$N")
rwtrap=$(SCONE_MODE=dev SCONE_SIM_EXIT_CYCLES=0 SCONE_FASTPATH=0 "$RUN" --dev-exec "$tmp/getppid-rw" "$N")
rwfast=$(SCONE_MODE=dev SCONE_SIM_EXIT_CYCLES=0 SCONE_STATS=1 "$RUN" --dev-exec "$tmp/getppid-rw" "$N" 2>"$tmp/faststats")
rwfast8k=$(SCONE_MODE=dev SCONE_SIM_EXIT_CYCLES=8000 "$RUN" --dev-exec "$tmp/getppid-rw" "$N")
rwasync8k=$(SCONE_MODE=dev SCONE_TRANSPORT=async SCONE_SIM_EXIT_CYCLES=8000 SCONE_STATS=1 "$RUN" --dev-exec "$tmp/getppid-rw" "$N" 2>"$tmp/rwastats")
# issue 19's configuration: two application threads (enclave threads) and
# one host worker; ns per call of the process (its calls/s inverted)
rwsync2=$(SCONE_MODE=dev SCONE_SIM_EXIT_CYCLES=8000 "$RUN" --dev-exec "$tmp/getppid-rw" "$N" 5 2)
rwasync2=$(SCONE_MODE=dev SCONE_TRANSPORT=async SCONE_ASYNC_WORKERS=1 SCONE_SIM_EXIT_CYCLES=8000 "$RUN" --dev-exec "$tmp/getppid-rw" "$N" 5 2)
nstatic2=$("$tmp/getppid-static" "$N" 5 2)
brknative=$("$tmp/brk0-static" "$N")
brkfast=$(SCONE_MODE=dev SCONE_SIM_EXIT_CYCLES=0 "$RUN" --dev-exec "$tmp/brk0-rw" "$N")
awk -v n="$native" -v s="$bare" -v a="$trap0" -v b="$trap8k" -v c="$novdso" -v d="$async0" -v e="$async8k" \
    -v ns="$nstatic" -v rt="$rwtrap" -v rf="$rwfast" -v rf8="$rwfast8k" -v ra8="$rwasync8k" -v s2="$rwsync2" -v a2="$rwasync2" -v n2="$nstatic2" -v bn="$brknative" -v bf="$brkfast" 'BEGIN {
	printf "getppid per call (ns, best of 5 rounds)\n"
	printf "  native                               %8.1f\n", n
	printf "  bare SUD trap, minimal handler       %8.1f  (x%.1f)\n", s, s / n
	printf "  scone-run, exit cost 0               %8.1f  (x%.1f; runtime dispatch +%.0f ns over the bare trap)\n", a, a / n, a - s
	printf "  scone-run, exit cost 8000 cycles     %8.1f  (x%.1f)\n", b, b / n
	printf "  scone-run, exit cost 0, vDSO hidden  %8.1f  (the timing calls trap too)\n", c
	printf "  scone-run async, exit cost 0         %8.1f  (x%.1f)\n", d, d / n
	printf "  scone-run async, exit cost 8000      %8.1f  (x%.1f; %.2fx the sync call)\n", e, e / n, e / b
	printf "static program, sites rewritten (scone-build rewrite):\n"
	printf "  native (static, not rewritten)       %8.1f\n", ns
	printf "  scone-run, exit cost 0, fast path off %7.1f  (x%.1f; the stubs trap)\n", rt, rt / ns
	printf "  scone-run, exit cost 0, fast path    %8.1f  (x%.2f; %.0f ns over native)\n", rf, rf / ns, rf - ns
	printf "  scone-run, exit cost 8000, fast path %8.1f  (x%.1f)\n", rf8, rf8 / ns
	printf "  scone-run async, exit cost 8000, fast path %6.1f  (x%.1f; %.1fx the calls/s of sync with the fast path)\n", ra8, ra8 / ns, rf8 / ra8
	printf "two threads at once, sites rewritten, exit cost 8000 (ns per call of the process):\n"
	printf "  native                               %8.1f\n", n2
	printf "  sync, fast path                      %8.1f\n", s2
	printf "  async, 1 worker, fast path           %8.1f  (%.2fx the calls/s of sync)\n", a2, s2 / a2
	printf "brk(0), emulated by the runtime (no host call on the fast path):\n"
	printf "  native (a real system call)          %8.1f\n", bn
	printf "  scone-run, fast path                 %8.1f  (the fast path alone: entry, dispatch, return)\n", bf
}'
sed -n 's/^scone-run: stats: transport async: /  async counters (exit cost 8000): /p' "$tmp/stats"
sed -n 's/^scone-run: stats: /  fast path counters (exit cost 0): /p' "$tmp/faststats"
sed -n 's/^scone-run: stats: transport async: /  async counters (fast path, exit cost 8000): /p' "$tmp/rwastats"
