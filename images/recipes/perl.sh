# perl: Debian's perl (with its core modules) on the debian layer, and the
# comparison script testdata/images/perl/ as /usr/local/share/scone-tests/perl/.
BASE=debian
SOURCES=(testdata/images/perl)
build() {
  debian_app "$W/app"
  debian_install "$W/app" perl
  mkdir -p "$W/app/usr/local/share/scone-tests/perl"
  cp "$ROOT"/testdata/images/perl/* "$W/app/usr/local/share/scone-tests/perl/"
  chmod 644 "$W"/app/usr/local/share/scone-tests/perl/*
  debian_layers
}
config() {
  cat <<JSON
{"Env":[$debian_path],"Cmd":["perl","-de0"]}
JSON
}
