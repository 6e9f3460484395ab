# openssl: Debian's openssl command line tool on the debian layer, and the
# comparison script testdata/images/openssl/ (with fixed test keys) as
# /usr/local/share/scone-tests/openssl/.
BASE=debian
SOURCES=(testdata/images/openssl)
build() {
  debian_app "$W/app"
  debian_install "$W/app" openssl
  mkdir -p "$W/app/usr/local/share/scone-tests/openssl"
  cp "$ROOT"/testdata/images/openssl/* "$W/app/usr/local/share/scone-tests/openssl/"
  chmod 644 "$W"/app/usr/local/share/scone-tests/openssl/*
  debian_layers
}
config() {
  cat <<JSON
{"Env":[$debian_path],"Cmd":["openssl","version"]}
JSON
}
