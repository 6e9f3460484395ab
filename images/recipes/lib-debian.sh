# Helpers for the Debian-based recipes (sourced by images/build.sh).
# Changing this file rebuilds the Debian rootfs tarball and every Debian image.

# debian_clean ROOT: what the official Debian images leave out: apt lists and
# caches, logs, device nodes, the host's resolv.conf.
debian_clean() {
  local root=${1:?debian_clean: no root}
  rm -rf "${root:?}"/dev/* "$root"/proc/* "$root"/sys/* "$root"/run/mount "$root"/tmp/* "$root"/var/tmp/*
  mkdir -p "$root"/run/lock && chmod 1777 "$root"/run/lock
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
         "$root"/var/cache/apt/archives/partial/* "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old \
         "$root"/var/cache/ldconfig/aux-cache
  mkdir -p "$root"/var/lib/apt/lists/partial
  rm -f "$root"/var/log/dpkg.log "$root"/var/log/alternatives.log "$root"/var/log/bootstrap.log "$root"/var/log/apt/*
  rm -f "$root"/etc/resolv.conf "$root"/usr/sbin/policy-rc.d
  : > "$root"/etc/hostname
}

# debian_app APP: a copy of the shared minbase rootfs to install into.
debian_app() {
  cp -a "$ROOTFS_DIR" "$1"
}

# debian_install APP PKG...: apt-get install into APP with chroot, then clean.
# Only device nodes are created in APP, nothing is mounted.
debian_install() {
  local r=$1; shift
  mknod -m 666 "$r/dev/null" c 1 3
  mknod -m 666 "$r/dev/zero" c 1 5
  mknod -m 666 "$r/dev/random" c 1 8
  mknod -m 666 "$r/dev/urandom" c 1 9
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' > "$r/usr/sbin/policy-rc.d"
  chmod 755 "$r/usr/sbin/policy-rc.d"
  # apt lists: fetched once per build.sh run, shared by the images of the run.
  local lists=$ROOTFS_DIR.apt-lists
  if [ -d "$lists" ]; then
    cp -a "$lists/." "$r/var/lib/apt/lists/"
  else
    chroot "$r" apt-get update -qq
    mkdir -p "$lists" && cp -a "$r/var/lib/apt/lists/." "$lists/"
  fi
  DEBIAN_FRONTEND=noninteractive chroot "$r" apt-get install -y -qq --no-install-recommends "$@" >"$W/apt.log" 2>&1 ||
    { tail -30 "$W/apt.log" >&2; return 1; }
  chroot "$r" apt-get clean
  debian_clean "$r"
}

# debian_layers: the shared Debian base layer plus what the recipe changed in $W/app.
debian_layers() {
  LAYERS=("gz:$BASE_GZ" "diff:$ROOTFS_DIR:$W/app")
}

# The official Debian images' PATH, as a JSON string.
debian_path='"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"'
