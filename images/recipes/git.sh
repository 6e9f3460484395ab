# git: Debian's git (it pulls perl; no recommends: no ssh client) on the debian
# layer, and the comparison script testdata/images/git/ as
# /usr/local/share/scone-tests/git/.
BASE=debian
SOURCES=(testdata/images/git)
build() {
  debian_app "$W/app"
  debian_install "$W/app" git
  mkdir -p "$W/app/usr/local/share/scone-tests/git"
  cp "$ROOT"/testdata/images/git/* "$W/app/usr/local/share/scone-tests/git/"
  chmod 644 "$W"/app/usr/local/share/scone-tests/git/*
  debian_layers
}
config() {
  cat <<JSON
{"Env":[$debian_path],"Cmd":["git","--version"]}
JSON
}
