#!/usr/bin/env bash
# Builds the real input images as OCI layouts into $SCONE_IMAGE_CACHE
# (default ~/.cache/scone-build/images): images/build.sh [-f] [NAMES...].
# Names come from the arguments, else from $IMAGES (`make images IMAGES="a b"`),
# else all.
# An image is rebuilt only when the hash of its recipe, this script, the
# packer (images/mkimage, pkg/rootfs) and its sources differs from the one stored in its
# layout (.scone-recipe-hash). See docs/images.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
CACHE=${SCONE_IMAGE_CACHE:-$HOME/.cache/scone-build/images}
# A fixed default (not the Makefile's git-derived SOURCE_DATE_EPOCH) so that
# new commits do not invalidate the cache. 2024-01-01T00:00:00Z.
EPOCH=${SCONE_IMAGE_EPOCH:-1704067200}
SUITE=${DEBIAN_SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ALL=(busybox musl gohttp debian nginx redis memcached sqlite python3 apache2)
export LC_ALL=C

log() { printf '%s images: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  echo "usage: images/build.sh [-f] [NAMES...]   (names: ${ALL[*]}; -f rebuilds even when cached)" >&2
  exit 2
}

FORCE=0
names=()
for a in "$@"; do
  case $a in
    -f|--force) FORCE=1 ;;
    -h|--help) usage ;;
    -*) usage ;;
    *) names+=("$a") ;;
  esac
done
if [ ${#names[@]} -eq 0 ] && [ -n "${IMAGES:-}" ]; then
  read -r -a names <<<"$IMAGES"
fi
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
for n in "${names[@]}"; do
  [ -f "$HERE/recipes/$n.sh" ] || { echo "images/build.sh: unknown image $n (known: ${ALL[*]})" >&2; exit 2; }
done

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9 # one build at a time per cache

W=$(mktemp -d "$CACHE/.work-XXXXXX")
# Unmounts whatever is still mounted under $1 (deepest first).
umount_under() {
  local d m
  d=$(realpath "$1")
  awk -v d="$d" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" || true
  done
}
# Removes a tree, refusing when something is still mounted in it.
safe_rm() {
  local d
  for d in "$@"; do
    [ -e "$d" ] || continue
    umount_under "$d"
    if awk '{print $2}' /proc/mounts | grep -qE "^$(realpath "$d")(/|$)"; then
      die "refusing to remove $d: still mounted"
    fi
    rm -rf "$d"
  done
}
cleanup() { safe_rm "$W"; }
trap cleanup EXIT

need() { # CMD PACKAGE
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: install $2 (scripts/setup.sh)"
}

MKIMAGE=$W/bin/mkimage
build_mkimage() {
  [ -x "$MKIMAGE" ] && return
  need go golang
  (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$MKIMAGE" ./images/mkimage)
}

# The packer's sources: images/mkimage and the host-directory walker it
# shares with the converter (pkg/rootfs), tests excluded.
mkimage_sources() {
  local f
  for f in "$HERE"/mkimage/*.go "$ROOT"/pkg/rootfs/*.go; do
    case $f in *_test.go) ;; *) echo "$f" ;; esac
  done
}

# Files that define an image: printed with their names, in a fixed order.
hash_inputs() { # NAME
  local n=$1 f
  echo "epoch=$EPOCH suite=$SUITE mirror=$MIRROR"
  go version 2>/dev/null || true
  for f in "$HERE/build.sh" "$HERE/recipes/$n.sh" "$HERE/recipes/lib-debian.sh" $(mkimage_sources); do
    echo "== ${f#"$ROOT"/}"; cat "$f"
  done
  local src
  for src in $(recipe_var "$n" SOURCES); do
    while IFS= read -r f; do
      echo "== $f"; cat "$ROOT/$f"
    done < <(cd "$ROOT" && find "$src" -type f | sort)
  done
  if [ "$(recipe_var "$n" BASE)" = debian ]; then
    echo "== rootfs"; rootfs_sha
  fi
}

recipe_var() { # NAME VAR: value(s) of a recipe variable
  # shellcheck source=/dev/null
  (source "$HERE/recipes/$1.sh"; eval "echo \${$2[@]:-}")
}

recipe_hash() { hash_inputs "$1" | sha256sum | cut -c1-64; }

# ---- the Debian minbase root file system, cached as a tarball -------------------
ROOTFS_TAR=$CACHE/_rootfs/debian-$SUITE-minbase.tar
rootfs_key() {
  { echo "suite=$SUITE mirror=$MIRROR"; cat "$HERE/recipes/lib-debian.sh"; } | sha256sum | cut -c1-64
}
rootfs_sha() { # sha256 of the cached tarball (recorded when it was made)
  ensure_rootfs_tar
  cat "$ROOTFS_TAR.sha256"
}
ensure_rootfs_tar() {
  if [ -f "$ROOTFS_TAR" ] && [ -f "$ROOTFS_TAR.sha256" ] && [ "$(cat "$ROOTFS_TAR.key" 2>/dev/null)" = "$(rootfs_key)" ]; then
    return
  fi
  need debootstrap debootstrap
  mkdir -p "$(dirname "$ROOTFS_TAR")"
  local t0=$SECONDS tree=$W/debootstrap
  log "debootstrap --variant=minbase $SUITE (40-120 s)"
  safe_rm "$tree"
  if ! debootstrap --variant=minbase "$SUITE" "$tree" "$MIRROR" >"$W/debootstrap.log" 2>&1; then
    umount_under "$tree"
    tail -20 "$W/debootstrap.log" >&2
    die "debootstrap failed (log above)"
  fi
  umount_under "$tree"
  ( source "$HERE/recipes/lib-debian.sh"; debian_clean "$tree" )
  tar --numeric-owner --sort=name -C "$tree" -cf "$ROOTFS_TAR.tmp" .
  sha256sum "$ROOTFS_TAR.tmp" | cut -c1-64 > "$ROOTFS_TAR.sha256"
  mv -f "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rootfs_key > "$ROOTFS_TAR.key"
  safe_rm "$tree"
  log "debian rootfs tarball ready in $((SECONDS - t0)) s: $ROOTFS_TAR"
}
# The rootfs as the gzip layer all Debian images share, made once.
BASE_GZ=$CACHE/_rootfs/debian-$SUITE-minbase.layer.tar.gz
base_layer_key() {
  { rootfs_sha; echo "epoch=$EPOCH"; mkimage_sources | xargs cat; } | sha256sum | cut -c1-64
}
ensure_base_layer() {
  local key
  key=$(base_layer_key)
  if [ -f "$BASE_GZ" ] && [ "$(cat "$BASE_GZ.key" 2>/dev/null)" = "$key" ]; then
    return
  fi
  ensure_rootfs_dir
  build_mkimage
  "$MKIMAGE" -epoch "$EPOCH" -write-layer "$BASE_GZ.tmp" -layer "dir:$ROOTFS_DIR"
  mv -f "$BASE_GZ.tmp" "$BASE_GZ"
  echo "$key" > "$BASE_GZ.key"
}
# The extracted rootfs, shared by the Debian-based images of this run.
ROOTFS_DIR=$W/rootfs
ensure_rootfs_dir() {
  [ -d "$ROOTFS_DIR" ] && return
  ensure_rootfs_tar
  mkdir -p "$ROOTFS_DIR"
  tar --numeric-owner -xpf "$ROOTFS_TAR" -C "$ROOTFS_DIR"
}

# ---- one image ---------------------------------------------------------------------
build_one() { # NAME
  local n=$1 out=$CACHE/$1 h t0=$SECONDS
  h=$(recipe_hash "$n")
  if [ $FORCE = 0 ] && [ -f "$out/index.json" ] && [ "$(cat "$out/.scone-recipe-hash" 2>/dev/null)" = "$h" ]; then
    log "$n: up to date ($out)"
    return
  fi
  log "$n: building"
  build_mkimage
  local wd=$W/img-$n
  mkdir -p "$wd"
  (
    set -euo pipefail
    W=$wd
    LAYERS=()
    source "$HERE/recipes/lib-debian.sh"
    # shellcheck source=/dev/null
    source "$HERE/recipes/$n.sh"
    if [ "${BASE:-}" = debian ]; then
      [ "$(id -u)" = 0 ] || die "$n: Debian images need root (debootstrap, chroot)"
      ensure_rootfs_dir
      ensure_base_layer
    fi
    build
    config > "$wd/config.json"
    args=()
    for l in "${LAYERS[@]}"; do args+=(-layer "$l"); done
    "$MKIMAGE" -out "$wd/layout" -config "$wd/config.json" -tag latest -epoch "$EPOCH" \
      -created-by "scone-build images/build.sh $n" "${args[@]}"
  )
  echo "$h" > "$wd/layout/.scone-recipe-hash"
  chmod -R a+rX "$wd/layout"
  rm -rf "$out.old"
  [ -e "$out" ] && mv "$out" "$out.old"
  mv "$wd/layout" "$out"
  rm -rf "$out.old"
  safe_rm "$wd"
  log "$n: built in $((SECONDS - t0)) s, $(du -sh "$out" | cut -f1) ($out)"
}

t_all=$SECONDS
for n in "${names[@]}"; do
  build_one "$n"
done
log "done in $((SECONDS - t_all)) s: ${names[*]}"
