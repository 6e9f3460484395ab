#!/bin/sh
# FS-shield + console-shield integration test (timings: see fs_probe's
# "bench" mode): builds runtime/tests/fs_probe.c
# (static), packs it into a root file system with a few files and symlinks,
# converts that with the scone-build CLI (dir: source) and runs the result
# with scone-run in sim mode. Needs a built runtime and CLI:
#   make build && sh runtime/tests/test_fs_shield.sh [path/to/scone-build]
set -eu
CLI=${1:-bin/scone-build}
W=$(mktemp -d "${TMPDIR:-/tmp}/fs-shield-test.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
cc=${CC:-gcc}
$cc -O1 -static -pthread -o "$W/probe" runtime/tests/fs_probe.c
[ -z "${KEEP:-}" ] || echo "work directory: $W" 

R=$W/rootfs
mkdir -p "$R/etc" "$R/tmp" "$R/bin"
cp "$W/probe" "$R/probe"
printf 'hello from the image\n' >"$R/etc/probe.txt"
printf 'second\n' >"$R/etc/probe2.txt"
ln -s probe.txt "$R/etc/link"
ln -s loop2 "$R/etc/loop1"
ln -s loop1 "$R/etc/loop2"
ln -s /dev/stdout "$R/etc/log"
head -c 4194304 /dev/zero | tr '\0' 'B' >"$R/big.bin"
cat >"$W/config.json" <<'JSON'
{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/probe"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":[]}}
JSON
sed 's|\["/probe"\]|["/probe","integrity"]|' "$W/config.json" >"$W/config-integrity.json"
sed 's|\["/probe"\]|["/probe","threads"]|' "$W/config.json" >"$W/config-threads.json"
"$CLI" keygen --out-dir "$W/keys" >/dev/null
run() { # $1: output dir, $2...: extra convert flags
	out=$1
	shift
	cfg=$W/config.json
	case $out in
	*integrity) cfg=$W/config-integrity.json ;;
	*threads) cfg=$W/config-threads.json ;;
	esac
	"$CLI" convert "dir:$R" "dir:$out" --source-config "$cfg" \
		--key "$W/keys/signer.pem" --fs-key "$W/keys/fs.key" "$@" >/dev/null
	if [ -n "${TAMPER_AT:-}" ]; then # flip every bit of one byte (writing a constant would miss when the byte is that constant)
		img=$out/rootfs/scone/enclave/fs.img
		b=$(od -An -tu1 -j "$TAMPER_AT" -N1 "$img" | tr -d ' ')
		# shellcheck disable=SC2059 # the format is the octal escape of the flipped byte
		printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$img" bs=1 seek="$TAMPER_AT" conv=notrunc 2>/dev/null
	fi
	SCONE_ENCLAVE_DIR="$out/rootfs/scone/enclave" SCONE_FS_KEY_FILE="$W/keys/fs.key" \
		"$out/rootfs/scone/bin/scone-run" >"$out.stdout" 2>"$out.stderr" || echo "exit $?" >>"$out.stderr"
}

fail=0
run "$W/plain"
if ! grep -q '^probe done: 0 failure' "$W/plain.stdout" || grep -q '^FAIL' "$W/plain.stdout"; then
	echo "FS shield probe failed:"; cat "$W/plain.stdout" "$W/plain.stderr"; fail=1
else
	echo "fs shield: $(grep -c '^ok ' "$W/plain.stdout") checks ok"
fi
if ls /tmp/scone-fs-probe-* >/dev/null 2>&1; then
	echo "FAIL: the probe's file reached the host's /tmp"; fail=1
fi
# FIFO and socket nodes are backed by host FIFOs and sockets in a private
# directory under /dev/shm: the last process of the enclave removes it,
# also when others were killed by a signal (the probe kills children).
# Checked in a mount namespace of its own with an empty /dev/shm, so that
# enclaves of tests running meanwhile cannot be taken for this one.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1; then
	# shellcheck disable=SC2016 # $1 is expanded by the inner shell
	left=$(SCONE_ENCLAVE_DIR="$W/plain/rootfs/scone/enclave" SCONE_FS_KEY_FILE="$W/keys/fs.key" \
		unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /dev/shm && "$1" >/dev/null 2>&1; ls -A /dev/shm' sh \
		"$W/plain/rootfs/scone/bin/scone-run")
	if [ -n "$left" ]; then
		echo "FAIL: the private directory stayed on the host: $left"; fail=1
	fi
else
	echo "skip: the private directory check needs root and unshare (a mount namespace with its own /dev/shm)"
fi

run "$W/con" --console-shield
if grep -q 'probe done' "$W/con.stdout" || grep -q 'via /dev/stdout' "$W/con.stdout"; then
	echo "FAIL: console shield on, but stdout is plaintext"; fail=1
fi
"$CLI" console decrypt --fs-key "$W/keys/fs.key" "$W/con.stdout" >"$W/con.txt" || { echo "FAIL: console decrypt"; fail=1; }
if ! grep -q '^probe done: 0 failure' "$W/con.txt" || ! grep -q '^via /dev/stdout' "$W/con.txt"; then
	echo "FAIL: decrypted console output:"; cat "$W/con.txt" "$W/con.stderr"; fail=1
else
	echo "console shield: stdout decrypted, $(grep -c '^ok ' "$W/con.txt") checks ok"
fi
# Tampering inside /big.bin's data (the first file's chunks follow the
# 16-byte preamble; 4 MiB of one byte: compressed by default, ~20 KB
# stored, so byte 1000 is in it with and without compression): EIO to the
# application, a security event on stderr.
for v in integrity none-integrity; do
	flags=
	[ "$v" = integrity ] || flags="--fs-compression none"
	# shellcheck disable=SC2086 # flags is empty or two words
	TAMPER_AT=1000 run "$W/$v" $flags
	if grep -q '^ok integrity' "$W/$v.stdout" && grep -q 'integrity violation in /big.bin' "$W/$v.stderr"; then
		echo "$v: tampered chunk -> EIO + '$(grep -o 'integrity violation in [^:]*' "$W/$v.stderr")'"
	else
		echo "FAIL: tampered image ($v):"; cat "$W/$v.stdout" "$W/$v.stderr"; fail=1
	fi
done
run "$W/threads"
if grep -q '^ok threads' "$W/threads.stdout"; then
	echo "threads: $(cat "$W/threads.stdout")"
else
	echo "FAIL: threads:"; cat "$W/threads.stdout" "$W/threads.stderr"; fail=1
fi
exit $fail
