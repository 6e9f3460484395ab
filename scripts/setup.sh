#!/usr/bin/env bash
# Installs, or checks, every tool that scone-build's build, tests, demo and
# benchmarks execute.
#
#   scripts/setup.sh           install the missing Debian packages (idempotent:
#                              apt runs only when something is missing), then check
#   scripts/setup.sh --check   only check: print each tool, the package that
#                              provides it and whether it is present; exit 1 when
#                              anything is missing (`make doctor` runs this)
#   scripts/setup.sh --list    print the Debian packages, one per line
#
# The table below is the single list. A tool is "present" when its probe
# succeeds: `cmd:NAME` looks NAME up in PATH (and /usr/sbin, /sbin), `file:PATH`
# checks the file exists, `static:PATH` also requires a statically linked ELF.
# `make fresh-check` proves the list complete in a fresh Debian 12 chroot
# (docs/fresh-machine.md).
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

# tool | Debian package | probe | who runs it
TOOLS=(
  "gcc|build-essential|cmd:gcc|runtime build, C tests, test programs"
  "make|build-essential|cmd:make|make targets, runtime build"
  "git|git|cmd:git|Makefile (version, SOURCE_DATE_EPOCH)"
  "CA certificates|ca-certificates|file:/etc/ssl/certs/ca-certificates.crt|go mod download, BuildKit build (HTTPS to the module proxy)"
  "musl-gcc|musl-tools|cmd:musl-gcc|musl test programs (runtime/e2e, pkg/link)"
  "musl libc|musl-dev|file:/usr/lib/x86_64-linux-musl/libc.a|musl test programs"
  "patchelf|patchelf|cmd:patchelf|pkg/link fixtures"
  "busybox (static)|busybox-static|static:/bin/busybox|demo, busybox image, runtime/e2e"
  "debootstrap|debootstrap|cmd:debootstrap|images/build.sh (Debian-based images), make fresh-check"
  "liburing|liburing-dev|file:/usr/include/liburing.h|runtime build (async transport)"
  "BearSSL|libbearssl-dev|file:/usr/include/bearssl.h|runtime build (crypto)"
  "LZ4 (static)|liblz4-dev|file:/usr/lib/x86_64-linux-gnu/liblz4.a|runtime build (decompression of FS chunks)"
  "zstd (static)|libzstd-dev|file:/usr/lib/x86_64-linux-gnu/libzstd.a|bench/fsp-codec (codec comparison)"
  "ldd, ldconfig|libc-bin|cmd:ldconfig|pkg/link (dependency closure checked against ldd)"
  "openssl|openssl|cmd:openssl|pkg/enclave (keys checked against openssl), detached-signing docs, runtime/e2e network shield (s_client)"
  "curl|curl|cmd:curl|runtime/e2e and test/e2e network shield (HTTPS clients verifying the certificate)"
  "tcpdump|tcpdump|cmd:tcpdump|test/e2e network shield (the loopback capture holds no plaintext)"
  "redis-cli|redis-tools|cmd:redis-cli|test/e2e network shield (redis-cli --tls)"
  "sqlite3|sqlite3|cmd:sqlite3|sqlite image smoke test"
  "tclsh|tcl|cmd:tclsh|make test-suites (redis's test suite)"
  "Tcl headers|tcl8.6-dev|file:/usr/lib/tcl8.6/tclConfig.sh|make test-suites (SQLite's testfixture)"
  "xz|xz-utils|cmd:xz|make test-suites (SQLite's source tarball)"
  "bzip2|bzip2|cmd:bzip2|make test-suites (PostgreSQL's source tarball)"
  "psql|postgresql-client|cmd:psql|make test-suites (PostgreSQL's regression suite: pg_regress runs psql)"
  "perl|perl|cmd:perl|make test-suites (PostgreSQL's build scripts)"
  "etcd|etcd-server|cmd:etcd|pkg/cas and cmd/scone-cas tests of the etcd store (a CAS replica set)"
  "flock|util-linux|cmd:flock|images/build.sh (one build per cache)"
  "unshare, mount|util-linux|cmd:unshare|test/gostd (the native runs in a private mount namespace)"
  "chroot|coreutils|cmd:chroot|test/gostd (the native runs in the image's tree)"
  "podman|podman|cmd:podman|e2e, images smoke tests, frontend run, demo, bench"
  "runc|runc|cmd:runc|podman's OCI runtime, buildkitd worker"
  "conmon|conmon|cmd:conmon|podman (container monitor)"
  "catatonit|catatonit|cmd:catatonit|podman (pause process)"
  "netavark|netavark|file:/usr/lib/podman/netavark|podman networking (every run without --network none)"
  "aardvark-dns|aardvark-dns|file:/usr/lib/podman/aardvark-dns|podman networking (DNS)"
  "iptables|iptables|cmd:iptables|netavark's firewall rules (podman runs with a network)"
  "newuidmap|uidmap|cmd:newuidmap|podman (user namespaces)"
  "fuse-overlayfs|fuse-overlayfs|cmd:fuse-overlayfs|podman storage fallback"
  "slirp4netns|slirp4netns|cmd:slirp4netns|podman rootless networking"
  "umoci|umoci|cmd:umoci|OCI layout unpacking (docs, manual runc runs)"
  "skopeo|skopeo|cmd:skopeo|copying images between registries and layouts (docs/ci.md)"
  "wrk|wrk|cmd:wrk|bench/servers.sh (nginx load)"
  "ab|apache2-utils|cmd:ab|bench (apache load)"
  "redis-benchmark|redis-tools|cmd:redis-benchmark|bench/servers.sh (redis load)"
  "memcslap|libmemcached-tools|cmd:memcslap|bench/servers.sh (memcached load)"
  "shellcheck|shellcheck|cmd:shellcheck|make lint (shell scripts)"
  "clang-format|clang-format|cmd:clang-format|make lint (runtime C style, .clang-format)"
)

# Found by the probe?
probe() {
  local p=$1
  case $p in
    cmd:*) command -v "${p#cmd:}" >/dev/null 2>&1 ;;
    file:*) [ -e "${p#file:}" ] ;;
    static:*)
      local f=${p#static:}
      [ -x "$f" ] || return 1
      # ldd prints "not a dynamic executable" (and fails) for static ELF files.
      ! ldd "$f" >/dev/null 2>&1 ;;
    *) echo "setup.sh: unknown probe $p" >&2; return 1 ;;
  esac
}

packages() {
  local e
  for e in "${TOOLS[@]}"; do
    IFS='|' read -r _ pkg _ _ <<<"$e"
    echo "$pkg"
  done | sort -u
}

check() {
  local e tool pkg pr why missing=() pkgs=()
  printf '%-18s %-20s %-8s %s\n' TOOL PACKAGE STATUS "USED BY"
  for e in "${TOOLS[@]}"; do
    IFS='|' read -r tool pkg pr why <<<"$e"
    if probe "$pr"; then
      printf '%-18s %-20s %-8s %s\n' "$tool" "$pkg" ok "$why"
    else
      printf '%-18s %-20s %-8s %s\n' "$tool" "$pkg" MISSING "$why"
      missing+=("$tool")
      pkgs+=("$pkg")
    fi
  done
  if command -v go >/dev/null 2>&1; then
    printf '%-18s %-20s %-8s %s\n' go "(go.dev/dl)" ok "$(go version | awk '{print $3}')"
  else
    printf '%-18s %-20s %-8s %s\n' go "(go.dev/dl)" MISSING "every Go build and test"
    missing+=(go)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo
    echo "setup: missing: ${missing[*]}"
    if [ ${#pkgs[@]} -gt 0 ]; then
      echo "fix: run scripts/setup.sh as root (it installs: $(printf '%s\n' "${pkgs[@]}" | sort -u | tr '\n' ' '))"
    fi
    return 1
  fi
  echo
  echo "setup: all ${#TOOLS[@]} tools present"
}

install() {
  local missing=() p
  while read -r p; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done < <(packages)
  if [ ${#missing[@]} -gt 0 ]; then
    local SUDO=""
    if [ "$(id -u)" != 0 ]; then
      command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
      SUDO=sudo
    fi
    echo "setup: installing ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # The probes, not dpkg, decide: a package can be installed and its tool
  # still unusable (a broken postinst, a diverted file).
  if ! out=$(check); then
    echo "$out" >&2
    exit 1
  fi
  echo "setup: all packages present"
}

case ${1:-} in
  "") install ;;
  --check) check ;;
  --list) packages ;;
  -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) echo "setup.sh: unknown argument $1 (use --check, --list or nothing)" >&2; exit 2 ;;
esac
