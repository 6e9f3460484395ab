#!/bin/sh
# Converted-vs-native comparison script for the curl image: curl against
# busybox httpd on loopback in the same container (static files, a CGI
# script, ranges, errors, uploads) and file:// URLs. Prints only what is
# deterministic (no Date or Last-Modified headers, no timings).
set -eu
export LC_ALL=C
W=/tmp/www
mkdir -p "$W/cgi-bin" "$W/sub"
printf 'hello from busybox httpd\n' > "$W/index.html"
seq 1 50000 > "$W/sub/numbers.txt"
head -c 300000 /dev/zero | tr '\0' 'q' > "$W/big.bin"
cat > "$W/cgi-bin/echo" <<'CGI'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
echo "method=$REQUEST_METHOD query=$QUERY_STRING length=${CONTENT_LENGTH:-0}"
if [ -n "${CONTENT_LENGTH:-}" ]; then head -c "$CONTENT_LENGTH" | sha256sum | cut -c1-64; fi
CGI
chmod 755 "$W/cgi-bin/echo"
busybox httpd -f -p 127.0.0.1:8088 -h "$W" &
srv=$!
U=http://127.0.0.1:8088
for _ in $(seq 1 100); do curl -s -o /dev/null "$U/" && break; sleep 0.1; done

echo "== GET"
curl -sS "$U/"
curl -sS -w 'code=%{http_code} size=%{size_download} type=%{content_type}\n' -o numbers.txt "$U/sub/numbers.txt"
sha256sum numbers.txt | cut -c1-64
curl -sS "$U/big.bin" | sha256sum | cut -c1-64
echo "== headers"
curl -sS -I "$U/sub/numbers.txt" | tr -d '\r' | grep -viE '^(date|last-modified|etag):' | sort
echo "== range"
curl -sS -r 100-139 "$U/sub/numbers.txt" | tr '\n' ' '; echo
curl -sS -o /dev/null -w 'range code=%{http_code} size=%{size_download}\n' -r 0-9 "$U/big.bin"
echo "== errors"
curl -s -o /dev/null -w 'missing code=%{http_code}\n' "$U/nope.html"
curl -sf "$U/nope.html" > /dev/null || echo "curl -f exit $?"
curl -s --max-time 5 "http://127.0.0.1:1/" > /dev/null || echo "refused exit $?"
echo "== CGI"
curl -sS "$U/cgi-bin/echo?a=1&b=two"
curl -sS --data-binary @numbers.txt "$U/cgi-bin/echo?post=1"
curl -sS -d 'x=1' -d 'y=2' "$U/cgi-bin/echo"
echo "== several URLs, one connection each"
curl -sS "$U/" "$U/" "$U/sub/numbers.txt" | wc -l
curl -sS -o /dev/null -w '%{http_code} ' "$U/[1-3].html" || true; echo
echo "== file://"
curl -sS file:///etc/debian_version | cut -d. -f1
curl -sS file://$W/sub/numbers.txt | tail -2
curl -sS -o copy.txt file://$W/sub/numbers.txt && cmp copy.txt numbers.txt && echo "file copy ok"
curl -s file:///no/such/file || echo "file missing exit $?"
kill "$srv"; wait "$srv" 2>/dev/null || true
echo "== done"
