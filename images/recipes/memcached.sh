# memcached: on the debian layer; like the official memcached image:
# runs as user memcache, port 11211.
BASE=debian
build() {
  debian_app "$W/app"
  debian_install "$W/app" memcached
  debian_layers
}
config() {
  cat <<JSON
{"User":"memcache","Env":[$debian_path],"Cmd":["memcached"],"ExposedPorts":{"11211/tcp":{}}}
JSON
}
