#!/bin/sh
# Draws a data file of bench/servers-latency.sh (data sets native, sync,
# async + mn) as a PNG: p99 and median latency (log scale) and the server's
# CPU against the achieved throughput.
#
#   bench/plot-latency.sh DATA.dat OUT.png TITLE
set -eu
[ $# -eq 3 ] || { echo "usage: $0 DATA.dat OUT.png TITLE" >&2; exit 2; }
if ! command -v gnuplot >/dev/null; then # a benchmark tool: not in scripts/setup.sh
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  if ! { $SUDO apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null; }; then
    echo "$0: gnuplot is needed and could not be installed: install Debian's gnuplot-nox (apt-get install gnuplot-nox)" >&2
    exit 1
  fi
fi
# series DATA COLUMN: the plot command of the three data sets' COLUMN
# against the achieved throughput
series() {
  printf '%s\n' "plot \"$1\" index 0 using 3:$2 with linespoints title \"native\", \\" \
    "     \"\" index 1 using 3:$2 with linespoints title \"converted, sync\", \\" \
    "     \"\" index 2 using 3:$2 with linespoints title \"converted, async + mn\""
}
gnuplot <<PLOT
set terminal png size 1400,420 font ",10"
set output "$2"
set multiplot layout 1,3 title "$3"
set xlabel "achieved requests/s"
set grid
set logscale y
set key bottom right
set ylabel "p99 latency (us)"
$(series "$1" 6)
set ylabel "median latency (us)"
$(series "$1" 4)
unset logscale y
set key top left
set ylabel "server CPU (cores)"
$(series "$1" 10)
unset multiplot
PLOT
