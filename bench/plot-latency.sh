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
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null
fi
gnuplot <<PLOT
set terminal png size 1400,420 font ",10"
set output "$2"
set multiplot layout 1,3 title "$3"
set xlabel "achieved requests/s"
set grid
set logscale y
set key bottom right
set ylabel "p99 latency (us)"
plot "$1" index 0 using 3:6 with linespoints title "native", \
     "" index 1 using 3:6 with linespoints title "converted, sync", \
     "" index 2 using 3:6 with linespoints title "converted, async + mn"
set ylabel "median latency (us)"
plot "$1" index 0 using 3:4 with linespoints title "native", \
     "" index 1 using 3:4 with linespoints title "converted, sync", \
     "" index 2 using 3:4 with linespoints title "converted, async + mn"
unset logscale y
set key top left
set ylabel "server CPU (cores)"
plot "$1" index 0 using 3:10 with linespoints title "native", \
     "" index 1 using 3:10 with linespoints title "converted, sync", \
     "" index 2 using 3:10 with linespoints title "converted, async + mn"
unset multiplot
PLOT
