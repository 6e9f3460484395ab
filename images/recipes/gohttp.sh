# gohttp: a static Go HTTP server (testdata/images/gohttp, CGO_ENABLED=0) on a
# distroless-static-like base layer (passwd with nonroot 65532, /tmp, CA
# certificates); runs as 65532, listens on :8080; GET / answers a fixed text,
# GET /file serves /app/data/hello.txt.
SOURCES=(testdata/images/gohttp)
build() {
  local b=$W/base a=$W/app
  mkdir -p "$b"/{etc/ssl/certs,home/nonroot,root,tmp,var/tmp}
  chmod 700 "$b/root"; chmod 1777 "$b/tmp" "$b/var/tmp"
  chown 65532:65532 "$b/home/nonroot"; chmod 700 "$b/home/nonroot"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$b/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n' > "$b/etc/group"
  printf 'hosts: files dns\n' > "$b/etc/nsswitch.conf"
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    install -m 644 /etc/ssl/certs/ca-certificates.crt "$b/etc/ssl/certs/ca-certificates.crt"
  fi
  mkdir -p "$a/app/data"
  (cd "$ROOT/testdata/images/gohttp" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 GOOS=linux GOARCH=amd64 \
    go build -trimpath -buildvcs=false -ldflags "-s -w -buildid=" -o "$a/app/gohttp" .)
  install -m 644 "$ROOT/testdata/images/gohttp/data/hello.txt" "$a/app/data/hello.txt"
  LAYERS=("dir:$b" "dir:$a")
}
config() {
  cat <<'JSON'
{"User":"65532:65532","Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],"Entrypoint":["/app/gohttp"],"ExposedPorts":{"8080/tcp":{}},"WorkingDir":"/app"}
JSON
}
