# musl: stands in for an Alpine-based image. Base layer like alpine: static
# busybox with applet symlinks, the musl dynamic loader/libc at
# /lib/ld-musl-x86_64.so.1, /etc files. Application layer: programs built with
# musl-gcc, dynamically linked against musl (testdata/images/musl):
# hello (default CMD), readfile FILE, echod [PORT] (TCP echo, port 7777).
SOURCES=(testdata/images/musl)
build() {
  command -v musl-gcc >/dev/null || die "musl-gcc not found: install musl-tools (scripts/setup.sh)"
  local b=$W/base a=$W/app libc=/lib/x86_64-linux-musl/libc.so
  [ -f "$libc" ] || die "$libc not found: install musl (scripts/setup.sh)"
  mkdir -p "$b"/{bin,sbin,etc,lib,home,root,tmp,usr/bin,usr/sbin,usr/lib,usr/local/bin,var/tmp}
  chmod 700 "$b/root"; chmod 1777 "$b/tmp" "$b/var/tmp"
  install -m 755 /bin/busybox "$b/bin/busybox"
  local x
  for x in $("$b/bin/busybox" --list); do
    [ "$x" = busybox ] || ln -s /bin/busybox "$b/bin/$x"
  done
  install -m 755 "$libc" "$b/lib/ld-musl-x86_64.so.1"
  ln -s ld-musl-x86_64.so.1 "$b/lib/libc.musl-x86_64.so.1"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' > "$b/etc/passwd"
  printf 'root:x:0:root\nnobody:x:65534:\n' > "$b/etc/group"
  printf 'NAME="musl stand-in"\nID=musl\nPRETTY_NAME="scone-build musl test image (Alpine-like)"\n' > "$b/etc/os-release"
  mkdir -p "$a/usr/local/bin" "$a/usr/local/share/musl-demo"
  local src=$ROOT/testdata/images/musl p
  for p in hello readfile echod; do
    musl-gcc -O2 -Wall -Werror -o "$a/usr/local/bin/$p" "$src/$p.c"
    strip "$a/usr/local/bin/$p"
  done
  install -m 644 "$src/data.txt" "$a/usr/local/share/musl-demo/data.txt"
  LAYERS=("dir:$b" "dir:$a")
}
config() {
  cat <<'JSON'
{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/usr/local/bin/hello"],"ExposedPorts":{"7777/tcp":{}}}
JSON
}
