# sqlite: sqlite3 on the debian layer with a sample database /data/sample.db
# made from testdata/images/sqlite/sample.sql by the image's own sqlite3.
BASE=debian
SOURCES=(testdata/images/sqlite)
build() {
  debian_app "$W/app"
  debian_install "$W/app" sqlite3
  mkdir -p "$W/app/data"
  cp "$ROOT/testdata/images/sqlite/sample.sql" "$W/app/tmp/sample.sql"
  chroot "$W/app" sqlite3 /data/sample.db ".read /tmp/sample.sql" >/dev/null
  rm -f "$W/app/tmp/sample.sql"
  chmod 644 "$W/app/data/sample.db"
  debian_layers
}
config() {
  cat <<JSON
{"Env":[$debian_path],"WorkingDir":"/data","Cmd":["sqlite3","/data/sample.db"]}
JSON
}
