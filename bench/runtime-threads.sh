#!/bin/sh
# Thread benchmark of the mn scheduler (docs/runtime.md, "User-level threads
# (M:N)"): a round trip between two threads through a mutex and condition
# variables (two futex waits and wakes), and creating + joining a thread,
# natively and under scone-run (dev mode) with one kernel thread per
# application thread (os, the default) and with user-level threads on two
# enclave threads (mn), at the default simulated exit cost (8000 cycles)
# and without it. The same program linked statically with its system call
# sites rewritten (scone-build rewrite, docs/rewrite.md) runs through the
# fast path, where the scheduler serves futex wakes and waits on a changed
# word without a trap. Measured in one run so the ratios are comparable;
# best of 5 rounds each. Run on an idle machine.
#
#   bench/runtime-threads.sh [scone-run] [round trips] [threads] [scone-build]
set -eu
cd "$(dirname "$0")/.."
RUN=${1:-runtime/build/scone-run}
N=${2:-20000}
M=${3:-2000}
[ -x "$RUN" ] || { echo "runtime not built: run make runtime" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SB=${4:-}
if [ -z "$SB" ]; then
	CGO_ENABLED=0 go build -o "$tmp/scone-build" ./cmd/scone-build
	SB=$tmp/scone-build
fi
gcc -O2 -pthread -o "$tmp/handoff" bench/syscall/handoff.c
gcc -O2 -static -pthread -o "$tmp/handoff-static" bench/syscall/handoff.c
"$SB" rewrite "$tmp/handoff-static" "$tmp/handoff-rw" >/dev/null
dev() { env SCONE_MODE=dev "$@" "$RUN" --dev-exec "$tmp/handoff" "$N" "$M"; }
devrw() { env SCONE_MODE=dev "$@" "$RUN" --dev-exec "$tmp/handoff-rw" "$N" "$M"; }
native=$("$tmp/handoff" "$N" "$M")
os8k=$(dev SCONE_SIM_EXIT_CYCLES=8000)
mn8k=$(dev SCONE_SIM_EXIT_CYCLES=8000 SCONE_SCHEDULER=mn SCONE_THREADS=2)
os0=$(dev SCONE_SIM_EXIT_CYCLES=0)
mn0=$(dev SCONE_SIM_EXIT_CYCLES=0 SCONE_SCHEDULER=mn SCONE_THREADS=2)
mn1=$(dev SCONE_SIM_EXIT_CYCLES=8000 SCONE_SCHEDULER=mn SCONE_THREADS=1)
nstatic=$("$tmp/handoff-static" "$N" "$M")
rwos8k=$(devrw SCONE_SIM_EXIT_CYCLES=8000)
rwmn8k=$(devrw SCONE_SIM_EXIT_CYCLES=8000 SCONE_SCHEDULER=mn SCONE_THREADS=2)
rwmn8kt=$(devrw SCONE_SIM_EXIT_CYCLES=8000 SCONE_SCHEDULER=mn SCONE_THREADS=2 SCONE_FASTPATH=0)
echo "$native $os8k $mn8k $os0 $mn0 $mn1 $nstatic $rwos8k $rwmn8k $rwmn8kt" | awk '{
	printf "                                   round trip (ns)   create+join (ns)\n"
	printf "  native                           %10d        %10d\n", $1, $2
	printf "  os, exit cost 8000 cycles        %10d (x%.1f) %10d (x%.1f)\n", $3, $3 / $1, $4, $4 / $2
	printf "  mn on 2, exit cost 8000 cycles   %10d (x%.1f) %10d (x%.1f)\n", $5, $5 / $1, $6, $6 / $2
	printf "  os, exit cost 0                  %10d (x%.1f) %10d (x%.1f)\n", $7, $7 / $1, $8, $8 / $2
	printf "  mn on 2, exit cost 0             %10d (x%.1f) %10d (x%.1f)\n", $9, $9 / $1, $10, $10 / $2
	printf "  mn on 1, exit cost 8000 cycles   %10d (x%.1f) %10d (x%.1f)\n", $11, $11 / $1, $12, $12 / $2
	printf "mn over os at exit cost 8000: round trip %.2fx the time, create+join %.2fx\n", $5 / $3, $6 / $4
	printf "static, sites rewritten (fast path):\n"
	printf "  native (static, not rewritten)   %10d        %10d\n", $13, $14
	printf "  os, exit cost 8000 cycles        %10d (x%.1f) %10d (x%.1f)\n", $15, $15 / $13, $16, $16 / $14
	printf "  mn on 2, exit cost 8000 cycles   %10d (x%.1f) %10d (x%.1f)\n", $17, $17 / $13, $18, $18 / $14
	printf "  mn on 2, 8000, fast path off     %10d (x%.1f) %10d (x%.1f)\n", $19, $19 / $13, $20, $20 / $14
	printf "mn over os, rewritten, at exit cost 8000: round trip %.2fx the time, create+join %.2fx\n", $17 / $15, $18 / $16
}'
