#!/bin/sh
# Thread benchmark of the mn scheduler (docs/runtime.md, "User-level threads
# (M:N)"): a round trip between two threads through a mutex and condition
# variables (two futex waits and wakes), and creating + joining a thread,
# natively and under scone-run (dev mode) with one kernel thread per
# application thread (os, the default) and with user-level threads on two
# enclave threads (mn), at the default simulated exit cost (8000 cycles)
# and without it. Measured in one run so the ratios are comparable; best
# of 5 rounds each. Run on an idle machine.
#
#   bench/runtime-threads.sh [scone-run] [round trips] [threads]
set -eu
cd "$(dirname "$0")/.."
RUN=${1:-runtime/build/scone-run}
N=${2:-20000}
M=${3:-2000}
[ -x "$RUN" ] || { echo "runtime not built: run make runtime" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -pthread -o "$tmp/handoff" bench/syscall/handoff.c
dev() { env SCONE_MODE=dev "$@" "$RUN" --dev-exec "$tmp/handoff" "$N" "$M"; }
native=$("$tmp/handoff" "$N" "$M")
os8k=$(dev SCONE_SIM_EXIT_CYCLES=8000)
mn8k=$(dev SCONE_SIM_EXIT_CYCLES=8000 SCONE_SCHEDULER=mn SCONE_THREADS=2)
os0=$(dev SCONE_SIM_EXIT_CYCLES=0)
mn0=$(dev SCONE_SIM_EXIT_CYCLES=0 SCONE_SCHEDULER=mn SCONE_THREADS=2)
mn1=$(dev SCONE_SIM_EXIT_CYCLES=8000 SCONE_SCHEDULER=mn SCONE_THREADS=1)
echo "$native $os8k $mn8k $os0 $mn0 $mn1" | awk '{
	printf "                                   round trip (ns)   create+join (ns)\n"
	printf "  native                           %10d        %10d\n", $1, $2
	printf "  os, exit cost 8000 cycles        %10d (x%.1f) %10d (x%.1f)\n", $3, $3 / $1, $4, $4 / $2
	printf "  mn on 2, exit cost 8000 cycles   %10d (x%.1f) %10d (x%.1f)\n", $5, $5 / $1, $6, $6 / $2
	printf "  os, exit cost 0                  %10d (x%.1f) %10d (x%.1f)\n", $7, $7 / $1, $8, $8 / $2
	printf "  mn on 2, exit cost 0             %10d (x%.1f) %10d (x%.1f)\n", $9, $9 / $1, $10, $10 / $2
	printf "  mn on 1, exit cost 8000 cycles   %10d (x%.1f) %10d (x%.1f)\n", $11, $11 / $1, $12, $12 / $2
	printf "mn over os at exit cost 8000: round trip %.2fx the time, create+join %.2fx\n", $5 / $3, $6 / $4
}'
