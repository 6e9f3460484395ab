# apache2: Debian's apache2 on the debian layer; like the official httpd image:
# runs in the foreground, port 80, STOPSIGNAL SIGWINCH (graceful stop), logs to stdout/stderr.
BASE=debian
build() {
  debian_app "$W/app"
  debian_install "$W/app" apache2
  local l=$W/app/var/log/apache2
  ln -sfT /dev/stdout "$l/access.log"
  ln -sfT /dev/stderr "$l/error.log"
  ln -sfT /dev/stdout "$l/other_vhosts_access.log"
  echo "ServerName localhost" > "$W/app/etc/apache2/conf-enabled/servername.conf"
  # apache2ctl raises nofile to 8192 by default, beyond podman's hard limit here.
  echo "export APACHE_ULIMIT_MAX_FILES=true" >> "$W/app/etc/apache2/envvars"
  debian_layers
}
config() {
  cat <<JSON
{"Env":[$debian_path],"Cmd":["apache2ctl","-D","FOREGROUND"],"ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGWINCH"}
JSON
}
