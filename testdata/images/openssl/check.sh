#!/bin/sh
# Converted-vs-native comparison script for the openssl image. Prints only
# deterministic results: digests, ciphertexts with fixed key and IV, public
# keys of the fixed test keys (fixed-*.pem, made for this test only), and
# pass/fail of what involves fresh randomness (generated keys, signatures,
# the TLS handshake over loopback) or time (speed).
set -eu
export LC_ALL=C
D=/usr/local/share/scone-tests/openssl
T=/tmp/ossl
mkdir -p "$T" && cd "$T"
openssl version | cut -d' ' -f1-2

echo "== dgst"
seq 1 20000 > data.txt
printf 'abc' | openssl dgst -sha256 -r
for a in sha1 sha256 sha512 sha3-256 blake2s256; do openssl dgst -"$a" -r data.txt; done
openssl dgst -sha256 -hmac secretkey -r data.txt
openssl sha256 -r "$D/fixed-p256.pem"

echo "== enc with -K/-iv"
K=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
IV=f0e0d0c0b0a090807060504030201000
printf 'attack at dawn, and then some more text to cross a block boundary\n' > msg.txt
openssl enc -aes-256-cbc -K "$K" -iv "$IV" -in msg.txt -a
openssl enc -aes-256-ctr -K "$K" -iv "$IV" -in data.txt | openssl dgst -sha256 -r
openssl enc -chacha20 -K "$K" -iv "$IV" -in data.txt -out data.enc
openssl enc -d -chacha20 -K "$K" -iv "$IV" -in data.enc | cmp - data.txt && echo "chacha20 round trip ok"
openssl enc -aes-128-cbc -pbkdf2 -iter 1000 -S 0102030405060708 -pass pass:hunter2 -in msg.txt -a
openssl enc -aes-128-cbc -pbkdf2 -iter 1000 -S 0102030405060708 -pass pass:hunter2 -in msg.txt |
  openssl enc -d -aes-128-cbc -pbkdf2 -iter 1000 -S 0102030405060708 -pass pass:hunter2 | cmp - msg.txt && echo "pbkdf2 round trip ok"
openssl base64 -in msg.txt | openssl base64 -d | cmp - msg.txt && echo "base64 round trip ok"

echo "== fixed keys"
for k in fixed-ed25519 fixed-p256; do
  openssl pkey -in "$D/$k.pem" -pubout
  openssl pkey -in "$D/$k.pem" -pubout -outform DER | openssl dgst -sha256 -r
done
# Ed25519 signatures are deterministic
openssl pkeyutl -sign -rawin -inkey "$D/fixed-ed25519.pem" -in msg.txt | openssl base64 -A; echo

echo "== genpkey, pkey -pubout round trip"
for alg in "ED25519" "EC -pkeyopt ec_paramgen_curve:P-384" "RSA -pkeyopt rsa_keygen_bits:2048" "X25519"; do
  # shellcheck disable=SC2086 # alg is an algorithm with options
  openssl genpkey -algorithm $alg -out key.pem 2>/dev/null
  openssl pkey -in key.pem -pubout -out pub.pem
  openssl pkey -pubin -in pub.pem -pubout -out pub2.pem
  cmp pub.pem pub2.pem
  openssl pkey -in key.pem -out key2.pem && openssl pkey -in key2.pem -pubout | cmp - pub.pem
  printf '%s: %s\n' "$(echo "$alg" | cut -d' ' -f1)" "$(openssl pkey -in key.pem -noout -text | head -1 | sed 's/ *$//')"
  case $alg in
    X25519) ;;
    *) openssl pkeyutl -sign -rawin -inkey key.pem -in msg.txt -out sig 2>/dev/null ||
         openssl dgst -sha256 -sign key.pem -out sig msg.txt
       if openssl pkeyutl -verify -rawin -pubin -inkey pub.pem -in msg.txt -sigfile sig >/dev/null 2>&1 ||
          openssl dgst -sha256 -verify pub.pem -signature sig msg.txt >/dev/null; then echo "  signature verifies"; else echo "  signature FAILS"; fi ;;
  esac
done

echo "== speed (timings not compared)"
if openssl speed -seconds 1 -bytes 1024 sha256 > speed.txt 2>&1 && grep -q '^sha256' speed.txt; then echo "speed sha256 ran"; else echo "speed FAILED"; cat speed.txt; fi

echo "== s_server / s_client over loopback"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.crt \
  -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null
openssl x509 -in srv.crt -noout -subject -ext subjectAltName
openssl s_server -accept 127.0.0.1:4433 -cert srv.crt -key srv.key -www -quiet > server.log 2>&1 &
srv=$!
ok=0
# -ign_eof: s_client waits for the server to close (s_server -www does after
# its page) instead of closing when its stdin ends, racing the answer.
for _ in $(seq 1 100); do
  if printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect 127.0.0.1:4433 -servername localhost \
      -CAfile srv.crt -verify_return_error -verify_hostname localhost -brief -ign_eof > client.out 2> client.err; then
    ok=1; break
  fi
  sleep 0.1
done
kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null || true
if [ $ok = 1 ]; then
  echo "handshake ok"
  grep -E '^(Protocol version|Ciphersuite|Verification|Peer signature type|Server Temp Key)' client.err || true
  grep -E '^(HTTP/1.0 200|<pre>|s_server)' client.out | head -3 || true
else
  echo "handshake FAILED"; cat client.err
fi
echo "== done"
