# shell: bash, coreutils, tar, gzip and xz-utils on the debian layer, and the
# comparison script testdata/images/shell/ as /usr/local/share/scone-tests/shell/.
BASE=debian
SOURCES=(testdata/images/shell)
build() {
  debian_app "$W/app"
  debian_install "$W/app" bash coreutils tar gzip xz-utils
  mkdir -p "$W/app/usr/local/share/scone-tests/shell"
  cp "$ROOT"/testdata/images/shell/* "$W/app/usr/local/share/scone-tests/shell/"
  chmod 644 "$W"/app/usr/local/share/scone-tests/shell/*
  debian_layers
}
config() {
  cat <<JSON
{"Env":[$debian_path],"Cmd":["bash"]}
JSON
}
