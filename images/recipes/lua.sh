# lua: Debian's lua5.4 on the debian layer (lua linked to lua5.4), and the
# comparison script testdata/images/lua/ as /usr/local/share/scone-tests/lua/.
BASE=debian
SOURCES=(testdata/images/lua)
build() {
  debian_app "$W/app"
  debian_install "$W/app" lua5.4
  mkdir -p "$W/app/usr/local/share/scone-tests/lua"
  cp "$ROOT"/testdata/images/lua/* "$W/app/usr/local/share/scone-tests/lua/"
  chmod 644 "$W"/app/usr/local/share/scone-tests/lua/*
  debian_layers
}
config() {
  cat <<JSON
{"Env":[$debian_path],"Cmd":["lua5.4"]}
JSON
}
