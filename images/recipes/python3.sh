# python3: python3-minimal on the debian layer; like the official python image: CMD python3.
BASE=debian
build() {
  debian_app "$W/app"
  debian_install "$W/app" python3-minimal
  LAYERS=("dir:$ROOTFS_DIR" "diff:$ROOTFS_DIR:$W/app")
}
config() {
  cat <<JSON
{"Env":[$debian_path,"LANG=C.UTF-8"],"Cmd":["python3"]}
JSON
}
