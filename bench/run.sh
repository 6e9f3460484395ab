#!/usr/bin/env bash
# make bench: every benchmark of the project, each reporting ratios against a
# baseline measured in the same run (docs/benchmarks.md records results).
# BENCH_MB sets the synthetic image size (default 200), BENCHTIME the
# iterations of the Go benchmarks (default 1x: each is already long).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${BENCH_OUT:-out/bench}
mkdir -p "$OUT"
export SCONE_BENCH_MB=${BENCH_MB:-200}
BT=${BENCHTIME:-1x}
log() { printf '\n== %s\n' "$*"; }

log "conversion vs plain flatten (synthetic ${SCONE_BENCH_MB} MB image), gzip implementations, enclave layer compression"
go test -run '^$' -bench 'ConvertVsFlatten|Gunzip|FlattenParallel|EnclaveLayerCompression' -benchtime "$BT" ./pkg/convert | tee "$OUT/convert.txt"

log "protected FS: pack vs raw AES-GCM+SHA-256, sequential and random reads"
go test -run '^$' -bench . -benchtime "$BT" ./pkg/fsprotect | tee "$OUT/fsprotect.txt"

log "enclave measurement and signing"
go test -run '^$' -bench . -benchtime 20x ./pkg/enclave | tee "$OUT/enclave.txt"

log "ELF analysis of /usr"
go test -run '^$' -bench . -benchtime "$BT" ./pkg/link | tee "$OUT/link.txt"

log "DCAP quote verification: cached collateral and uncached, vs one ECDSA-P256 verification"
go test -run '^$' -bench 'VerifyCachedCollateral|VerifyUncached|ECDSAP256Verify' -cpu 1,2 -benchtime 2s ./pkg/attest | tee "$OUT/attest.txt"

log "runtime: per-syscall overhead vs native (getppid)"
bench/runtime-syscall.sh | tee "$OUT/runtime-syscall.txt"
log "runtime: start-up, pwrite, protected-FS reads vs native"
make -s build >/dev/null
bench/runtime-io.sh bin/scone-build 100 | tee "$OUT/runtime-io.txt"

log "runtime: TLS curves (X25519, P-256, ECDSA) vs BearSSL's"
bench/tls-ec.sh | tee "$OUT/tls-ec.txt"

log "servers: throughput converted vs native (nginx, redis, memcached)"
bench/servers.sh bin/scone-build 5 | tee "$OUT/servers.txt"

if [ -d "${SCONE_IMAGE_CACHE:-$HOME/.cache/scone-build/images}" ]; then
  log "conversion of the real images vs plain flatten"
  go test -run '^$' -bench RealImages -benchtime 1x ./pkg/convert | tee "$OUT/real-images.txt"
fi
echo; echo "results in $OUT/"
