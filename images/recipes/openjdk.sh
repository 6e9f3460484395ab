# openjdk: Debian's OpenJDK 17 (the headless JDK, so that `java Check.java`
# compiles the comparison program in memory: the source launcher needs
# jdk.compiler, which the JRE lacks) on the debian layer, and the program
# testdata/images/openjdk/ as /usr/local/share/scone-tests/openjdk/.
BASE=debian
SOURCES=(testdata/images/openjdk)
build() {
  debian_app "$W/app"
  # The JRE's post-installation script runs java, which needs /proc: mount
  # it for the install, and unmount it before debian_clean (which empties
  # /proc) runs; build.sh unmounts whatever a failure leaves mounted.
  mkdir -p "$W/app/proc"
  mount -t proc proc "$W/app/proc"
  eval "lib_debian_clean() $(declare -f debian_clean | tail -n +2)"
  # shellcheck disable=SC2317 # called by debian_install
  debian_clean() { umount "$1/proc" 2>/dev/null || umount -l "$1/proc"; lib_debian_clean "$@"; }
  debian_install "$W/app" openjdk-17-jdk-headless
  mkdir -p "$W/app/usr/local/share/scone-tests/openjdk"
  cp "$ROOT"/testdata/images/openjdk/* "$W/app/usr/local/share/scone-tests/openjdk/"
  chmod 644 "$W"/app/usr/local/share/scone-tests/openjdk/*
  debian_layers
}
config() {
  cat <<JSON
{"Env":[$debian_path],"Cmd":["jshell"]}
JSON
}
