# debian: debootstrap --variant=minbase bookworm, one layer, like debian:bookworm-slim.
BASE=debian
build() {
  LAYERS=("dir:$ROOTFS_DIR")
}
config() {
  cat <<JSON
{"Env":[$debian_path],"Cmd":["bash"]}
JSON
}
