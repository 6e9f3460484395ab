# mariadb: Debian's MariaDB 10.11 server on the debian layer; like the
# official mariadb image: runs as user mysql, data in /var/lib/mysql (a
# volume), port 3306. The command mariadb-start initializes an empty data
# directory (mariadb-install-db; root may log in from any host without a
# password: the tests' clients) and then runs the server in the foreground.
BASE=debian
build() {
  debian_app "$W/app"
  debian_install "$W/app" mariadb-server mariadb-client
  # no database of Debian's own: the data directory is the volume's
  rm -rf "$W/app/var/lib/mysql"
  mkdir -p "$W/app/var/lib/mysql" "$W/app/run/mysqld"
  chroot "$W/app" chown mysql:mysql /var/lib/mysql /run/mysqld
  chmod 700 "$W/app/var/lib/mysql"
  mkdir -p "$W/app/usr/local/bin"
  cat >"$W/app/usr/local/bin/mariadb-start" <<'SH'
#!/bin/sh
# mariadb-install-db on an empty data directory, then the server in the foreground
set -e
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --datadir=/var/lib/mysql --auth-root-authentication-method=normal --skip-test-db >&2
  mariadbd --datadir=/var/lib/mysql --skip-networking --bootstrap >&2 <<'SQL'
FLUSH PRIVILEGES;
CREATE USER 'root'@'%';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
SQL
fi
exec mariadbd --datadir=/var/lib/mysql --bind-address=0.0.0.0 --skip-name-resolve "$@"
SH
  chmod 755 "$W/app/usr/local/bin/mariadb-start"
  MY_UID=$(chroot "$W/app" id -u mysql)
  MY_GID=$(chroot "$W/app" id -g mysql)
  debian_layers
}
config() {
  cat <<JSON
{"User":"$MY_UID:$MY_GID","Env":[$debian_path],"Cmd":["mariadb-start"],"ExposedPorts":{"3306/tcp":{}},"Volumes":{"/var/lib/mysql":{}},"WorkingDir":"/var/lib/mysql"}
JSON
}
