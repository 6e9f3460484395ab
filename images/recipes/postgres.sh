# postgres: Debian's PostgreSQL 15 server on the debian layer; like the
# official postgres image: runs as user postgres, data in
# /var/lib/postgresql/data (a volume, PGDATA), port 5432. The command
# pg-start initializes an empty data directory (initdb, trust
# authentication: the tests' clients connect without a password) and then
# runs the server in the foreground, as the official image's entrypoint
# (clients from other hosts are trusted too, as the official image's
# POSTGRES_HOST_AUTH_METHOD=trust).
BASE=debian
build() {
  debian_app "$W/app"
  debian_install "$W/app" postgresql-15
  # no cluster of Debian's own: the data directory is the volume's
  rm -rf "$W/app/var/lib/postgresql/15" "$W/app/etc/postgresql/15"
  mkdir -p "$W/app/var/lib/postgresql/data" "$W/app/var/run/postgresql"
  chroot "$W/app" chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql
  chmod 700 "$W/app/var/lib/postgresql/data"
  mkdir -p "$W/app/usr/local/bin"
  cat >"$W/app/usr/local/bin/pg-start" <<'SH'
#!/bin/sh
# initdb on an empty data directory, then the server in the foreground
set -e
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb -D "$PGDATA" --auth=trust --username=postgres --encoding=UTF8 --locale=C.UTF-8 >&2
  # clients from other containers (the official image's
  # POSTGRES_HOST_AUTH_METHOD=trust)
  echo "host all all all trust" >>"$PGDATA/pg_hba.conf"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
SH
  chmod 755 "$W/app/usr/local/bin/pg-start"
  PG_UID=$(chroot "$W/app" id -u postgres)
  PG_GID=$(chroot "$W/app" id -g postgres)
  debian_layers
}
config() {
  cat <<JSON
{"User":"$PG_UID:$PG_GID","Env":["PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","PGDATA=/var/lib/postgresql/data"],"Cmd":["pg-start"],"ExposedPorts":{"5432/tcp":{}},"Volumes":{"/var/lib/postgresql/data":{}},"WorkingDir":"/var/lib/postgresql","StopSignal":"SIGINT"}
JSON
}
