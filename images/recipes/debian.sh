# debian: debootstrap --variant=minbase bookworm, one layer, like debian:bookworm-slim.
BASE=debian
build() {
  LAYERS=("gz:$BASE_GZ")
}
config() {
  cat <<JSON
{"Env":[$debian_path],"Cmd":["bash"]}
JSON
}
