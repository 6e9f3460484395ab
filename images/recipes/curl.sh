# curl: Debian's curl and busybox (for `busybox httpd`, a local server in the
# same container) on the debian layer, and the comparison script
# testdata/images/curl/ as /usr/local/share/scone-tests/curl/.
BASE=debian
SOURCES=(testdata/images/curl)
build() {
  debian_app "$W/app"
  debian_install "$W/app" curl busybox
  mkdir -p "$W/app/usr/local/share/scone-tests/curl"
  cp "$ROOT"/testdata/images/curl/* "$W/app/usr/local/share/scone-tests/curl/"
  chmod 644 "$W"/app/usr/local/share/scone-tests/curl/*
  debian_layers
}
config() {
  cat <<JSON
{"Env":[$debian_path],"Cmd":["curl","--version"]}
JSON
}
