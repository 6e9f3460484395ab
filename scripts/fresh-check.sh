#!/usr/bin/env bash
# Proves scripts/setup.sh complete: in a fresh Debian 12 (bookworm) chroot
# with only Go copied in, runs `scripts/setup.sh` (installs) and then
# `scripts/setup.sh --check` (every tool present), from a clean clone of HEAD.
#
#   scripts/fresh-check.sh [--keep] [--build]
#     --keep    keep the chroot (printed) instead of removing it
#     --build   also run `make build test-runtime` inside the chroot
#
# Needs root and debootstrap (scripts/setup.sh installs it). Takes 2-4 min:
# debootstrap --variant=minbase (~40-120 s), then apt in the chroot.
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian),
# FRESH_DIR (parent directory of the chroot, default /var/tmp).
# See docs/fresh-machine.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEEP=0
BUILD=0
for a in "$@"; do
  case $a in
    --keep) KEEP=1 ;;
    --build) BUILD=1 ;;
    *) echo "usage: scripts/fresh-check.sh [--keep] [--build]" >&2; exit 2 ;;
  esac
done
log() { printf '%s fresh-check: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount)"
command -v debootstrap >/dev/null || die "debootstrap not found: run scripts/setup.sh first"
GOROOT_HOST=$(go env GOROOT 2>/dev/null) || die "go not found"

D=$(mktemp -d "${FRESH_DIR:-/var/tmp}/scone-fresh-XXXXXX")
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  if [ $KEEP = 1 ]; then
    log "kept the chroot: $D"
  else
    # Refuse to delete through a mount that is still there.
    if awk '{print $2}' /proc/mounts | grep -q "^$D/"; then
      log "still mounted under $D; not removing it"
    else
      rm -rf "$D"
    fi
  fi
}
trap cleanup EXIT
mnt() { mount "$@"; mounted+=("${!#}"); }

t0=$SECONDS
log "debootstrap --variant=minbase bookworm into $D"
debootstrap --variant=minbase bookworm "$D" "$MIRROR" >"$D.debootstrap.log" 2>&1 ||
  { tail -20 "$D.debootstrap.log" >&2; die "debootstrap failed"; }
rm -f "$D.debootstrap.log"
log "debootstrap done in $((SECONDS - t0)) s"

# What a fresh machine has besides Debian: Go (read-only bind mount) and a
# clean clone of the repository's HEAD. gcc is not copied in: the machine
# has it, and setup.sh installs build-essential anyway.
mkdir -p "$D/usr/local/go" "$D/src"
mnt --bind "$GOROOT_HOST" "$D/usr/local/go"
mount -o remount,bind,ro "$D/usr/local/go"
git -C "$ROOT" rev-parse --verify HEAD >/dev/null || die "$ROOT is not a git checkout"
git clone -q --no-local "$ROOT" "$D/src/scone-build"
# The working tree's setup.sh, so an uncommitted change to it is what is checked.
cp "$ROOT/scripts/setup.sh" "$D/src/scone-build/scripts/setup.sh"
mnt -t proc proc "$D/proc"
mnt -t sysfs sysfs "$D/sys"
mnt --bind /dev "$D/dev"
mnt --bind /dev/pts "$D/dev/pts"
cp /etc/resolv.conf "$D/etc/resolv.conf"
# The machine's own trust anchors (an egress proxy's CA, say) come with the
# machine, like Go; Debian's ca-certificates, which setup.sh installs, does
# not know them. Only --build reaches the module proxy over HTTPS.
HOST_CA=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$HOST_CA" ] && cp "$HOST_CA" "$D/etc/host-ca.crt"
printf '#!/bin/sh\nexit 101\n' >"$D/usr/sbin/policy-rc.d" # no services start in the chroot
chmod 755 "$D/usr/sbin/policy-rc.d"

in_chroot() {
  chroot "$D" /usr/bin/env -i HOME=/root TERM=dumb DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    GOPROXY="$(go env GOPROXY)" GOFLAGS="$(go env GOFLAGS)" SSL_CERT_FILE=/etc/host-ca.crt \
    bash -c "cd /src/scone-build && $1"
}

log "before setup (what a fresh machine lacks):"
in_chroot "./scripts/setup.sh --check" | sed 's/^/  /' >&2 || true
t1=$SECONDS
log "scripts/setup.sh"
in_chroot "./scripts/setup.sh" || die "scripts/setup.sh failed in the chroot"
log "setup done in $((SECONDS - t1)) s"
log "scripts/setup.sh --check"
if ! in_chroot "./scripts/setup.sh --check"; then
  die "scripts/setup.sh --check reports missing tools after scripts/setup.sh: the package list is incomplete"
fi
if [ $BUILD = 1 ]; then
  log "make build test-runtime"
  in_chroot "make build test-runtime" || die "make build test-runtime failed in the chroot"
fi
log "OK: a fresh Debian 12 gets every tool from scripts/setup.sh ($((SECONDS - t0)) s in all)"
