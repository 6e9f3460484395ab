#!/bin/sh
# Volume freshness window: the time from a volume commit's record request
# to the CAS's acknowledgement (an attested session, pinned TLS kept alive,
# the state durable in bbolt on disk), as BenchmarkVolumeRecordTLS in
# pkg/cas measures it. Quick by default (the machine may be shared).
#
#   bench/volume-freshness.sh [records]
set -eu
cd "$(dirname "$0")/.."
n=${1:-200}
CGO_ENABLED=0 go test -run XXX -bench BenchmarkVolumeRecordTLS -benchtime "${n}x" ./pkg/cas/ |
	grep -E 'BenchmarkVolumeRecordTLS|^ok'
