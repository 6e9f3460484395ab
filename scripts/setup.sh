#!/usr/bin/env bash
# Installs the Debian packages scone-build's build, tests and demo need.
# Idempotent: skips apt when everything is already there.
set -euo pipefail
pkgs=(build-essential musl-tools musl-dev patchelf busybox-static debootstrap liburing-dev libbearssl-dev
      podman runc umoci skopeo uidmap fuse-overlayfs slirp4netns netavark aardvark-dns conmon catatonit sqlite3)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all packages present"
