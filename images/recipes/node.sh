# node: Debian's Node.js (nodejs, v18) on the debian layer, and the
# comparison script testdata/images/node/ as /usr/local/share/scone-tests/node/.
BASE=debian
SOURCES=(testdata/images/node)
build() {
  debian_app "$W/app"
  debian_install "$W/app" nodejs
  mkdir -p "$W/app/usr/local/share/scone-tests/node"
  cp "$ROOT"/testdata/images/node/* "$W/app/usr/local/share/scone-tests/node/"
  chmod 644 "$W"/app/usr/local/share/scone-tests/node/*
  debian_layers
}
config() {
  cat <<JSON
{"Env":[$debian_path],"Cmd":["node"]}
JSON
}
