package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// serve runs conn for each connection until it returns, then closes it.
func serve(t *testing.T, conn func(rd *bufio.Reader, w net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				conn(bufio.NewReader(c), c)
			}()
		}
	}()
	return ln.Addr().String()
}

// each answers requests with handle until it fails.
func each(handle func(rd *bufio.Reader, w net.Conn) error) func(rd *bufio.Reader, w net.Conn) {
	return func(rd *bufio.Reader, w net.Conn) {
		for handle(rd, w) == nil {
		}
	}
}

// A minimal redis: SET stores, GET answers the value.
func fakeRedis(rd *bufio.Reader, w net.Conn) error {
	var args []string
	line, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	var n int
	if _, err := fmt.Sscanf(line, "*%d\r\n", &n); err != nil {
		return err
	}
	for range n {
		if _, err := rd.ReadString('\n'); err != nil {
			return err
		}
		a, err := rd.ReadString('\n')
		if err != nil {
			return err
		}
		args = append(args, strings.TrimSpace(a))
	}
	switch args[0] {
	case "SET":
		_, err = w.Write([]byte("+OK\r\n"))
	case "GET":
		_, err = w.Write([]byte("$5\r\nvalue\r\n"))
	}
	return err
}

func fakeMemcached(rd *bufio.Reader, w net.Conn) error {
	line, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	if strings.HasPrefix(line, "set ") {
		if _, err := rd.ReadString('\n'); err != nil {
			return err
		}
		_, err = w.Write([]byte("STORED\r\n"))
		return err
	}
	_, err = w.Write([]byte("VALUE k 0 5\r\nvalue\r\nEND\r\n"))
	return err
}

func TestLoad(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	}))
	defer web.Close()
	addrs := map[string]string{
		"http":      strings.TrimPrefix(web.URL, "http://"),
		"redis":     serve(t, each(fakeRedis)),
		"memcached": serve(t, each(fakeMemcached)),
	}
	for _, proto := range []string{"http", "redis", "memcached"} {
		t.Run(proto+" closed loop", func(t *testing.T) {
			r, err := run(options{proto: proto, addr: addrs[proto], conns: 2, duration: 300 * time.Millisecond, valueSize: 8})
			if err != nil {
				t.Fatal(err)
			}
			if r.errors != 0 || r.achieved <= 0 || len(r.lat) == 0 {
				t.Fatalf("closed loop: %v", r)
			}
		})
		t.Run(proto+" open loop", func(t *testing.T) {
			// 200/s over 4 connections for 1 s: the server answers far
			// faster, so about 200 requests complete (the rate holds);
			// loose bounds for a loaded machine.
			r, err := run(options{proto: proto, addr: addrs[proto], rate: 200, conns: 4, duration: time.Second, valueSize: 8})
			if err != nil {
				t.Fatal(err)
			}
			if r.errors != 0 || r.achieved < 100 || r.achieved > 220 {
				t.Fatalf("open loop at 200/s: %v", r)
			}
		})
	}
}

// A server that answers 20 requests/s offered 100/s: latency counts from
// when each request was due, so it grows with the queue (no coordinated
// omission), and the throughput is the server's.
func TestLoadSlowServer(t *testing.T) {
	addr := serve(t, each(func(rd *bufio.Reader, w net.Conn) error {
		time.Sleep(50 * time.Millisecond)
		return fakeMemcached(rd, w)
	}))
	r, err := run(options{proto: "memcached", addr: addr, rate: 100, conns: 1, duration: time.Second, valueSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	p99 := r.lat[len(r.lat)*99/100]
	if r.achieved > 40 || p99 < 300*time.Millisecond || len(r.lat) < 90 {
		t.Fatalf("slow server: achieved %.0f/s, p99 %v, %d samples; want <= 40/s, >= 300ms, ~100 samples", r.achieved, p99, len(r.lat))
	}
}

// A server that closes each connection after 3 requests (as nginx does
// after keepalive_requests): the generator reconnects and goes on.
func TestLoadReconnects(t *testing.T) {
	addr := serve(t, func(rd *bufio.Reader, w net.Conn) {
		for range 3 {
			if fakeMemcached(rd, w) != nil {
				return
			}
		}
	})
	r, err := run(options{proto: "memcached", addr: addr, conns: 2, duration: 300 * time.Millisecond, valueSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	if r.errors != 0 || len(r.lat) < 20 {
		t.Fatalf("closing server: %v (%d samples), want no errors and many requests", r, len(r.lat))
	}
}

func TestOptionsRefused(t *testing.T) {
	base := options{proto: "http", addr: "127.0.0.1:1", conns: 1, duration: time.Second, valueSize: 8}
	for _, tt := range []struct {
		name string
		mod  func(*options)
		want string
	}{
		{"protocol", func(o *options) { o.proto = "gopher" }, `unknown protocol "gopher"`},
		{"conns", func(o *options) { o.conns = 0 }, "at least one connection"},
		{"rate", func(o *options) { o.rate = -1 }, "not a rate"},
		{"duration", func(o *options) { o.duration = 0 }, "-duration must be positive"},
		{"value", func(o *options) { o.valueSize = 0 }, "between 1 byte and 1 MiB"},
		{"no server", func(*options) {}, "connecting to 127.0.0.1:1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			tt.mod(&o)
			_, err := run(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

func FuzzResponses(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("$5\r\nvalue\r\n"))
	f.Add([]byte("VALUE k 0 5\r\nvalue\r\nEND\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, read := range []func(*bufio.Reader) error{readHTTPResponse, readRESPBulk, readMemcachedValue} {
			_ = read(bufio.NewReader(strings.NewReader(string(b))))
		}
	})
}
