# busybox: Debian's static busybox, one layer, like the official busybox image:
# /bin/busybox with every applet as a hard link in /bin, CMD ["sh"].
build() {
  local r=$W/root bb=/bin/busybox
  [ -x "$bb" ] || die "$bb not found: install busybox-static (scripts/setup.sh)"
  file_is_static "$bb" || die "$bb is dynamically linked: install busybox-static (scripts/setup.sh)"
  mkdir -p "$r"/{bin,etc,home,root,tmp,usr/sbin,var/spool/mail,var/www}
  chmod 700 "$r/root"; chmod 1777 "$r/tmp"
  install -m 755 "$bb" "$r/bin/busybox"
  local a
  for a in $("$r/bin/busybox" --list); do
    [ "$a" = busybox ] || ln "$r/bin/busybox" "$r/bin/$a"
  done
  cat > "$r/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
P
  cat > "$r/etc/group" <<'G'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:root
mail:x:12:
www-data:x:33:
operator:x:37:
staff:x:50:
users:x:100:
nogroup:x:65534:
G
  printf 'root::19000:0:99999:7:::\n' > "$r/etc/shadow"; chmod 600 "$r/etc/shadow"
  LAYERS=("dir:$r")
}
config() {
  cat <<'JSON'
{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]}
JSON
}
file_is_static() { ! LC_ALL=C readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'; }
