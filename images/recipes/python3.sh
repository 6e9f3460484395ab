# python3: python3 (interpreter and standard library, no recommends) on the
# debian layer; like the official python image: CMD python3.
BASE=debian
build() {
  debian_app "$W/app"
  debian_install "$W/app" python3
  debian_layers
}
config() {
  cat <<JSON
{"Env":[$debian_path,"LANG=C.UTF-8"],"Cmd":["python3"]}
JSON
}
