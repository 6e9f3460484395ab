# redis: redis-server on the debian layer; like the official redis image:
# runs as user redis in /data (a volume), port 6379, protected mode off.
BASE=debian
build() {
  debian_app "$W/app"
  debian_install "$W/app" redis-server
  mkdir -p "$W/app/data"
  chroot "$W/app" chown redis:redis /data
  debian_layers
}
config() {
  cat <<JSON
{"User":"redis","Env":[$debian_path],"Cmd":["redis-server","--protected-mode","no"],"ExposedPorts":{"6379/tcp":{}},"Volumes":{"/data":{}},"WorkingDir":"/data"}
JSON
}
