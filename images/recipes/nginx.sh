# nginx: nginx-light on the debian layer; like the official nginx image:
# CMD nginx -g 'daemon off;', port 80, STOPSIGNAL SIGQUIT, logs to stdout/stderr.
BASE=debian
build() {
  debian_app "$W/app"
  debian_install "$W/app" nginx-light
  ln -sf /dev/stdout "$W/app/var/log/nginx/access.log"
  ln -sf /dev/stderr "$W/app/var/log/nginx/error.log"
  debian_layers
}
config() {
  cat <<JSON
{"Env":[$debian_path],"Cmd":["nginx","-g","daemon off;"],"ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGQUIT"}
JSON
}
