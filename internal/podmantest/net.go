package podmantest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// DialWait dials addr until it accepts a TCP connection or timeout passes.
func DialWait(addr string, timeout time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("dialing %q for %v: %w", addr, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// GetWait sends GET url until it answers (any status) or timeout passes and
// returns the status code and body.
func GetWait(url string, timeout time.Duration) (int, string, error) {
	deadline := time.Now().Add(timeout)
	// No connection is left open after the answer: a server stopping
	// gracefully (apache's SIGWINCH) would wait for it.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
			resp.Body.Close()
			if rerr == nil {
				return resp.StatusCode, string(body), nil
			}
			err = rerr
		}
		if time.Now().After(deadline) {
			return 0, "", fmt.Errorf("getting %q for %v: %w", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitTCP waits up to timeout for addr to accept a connection, failing the
// test with the container's logs when it does not.
func (c *Container) WaitTCP(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	conn, err := DialWait(addr, timeout)
	if err != nil {
		t.Fatalf("container %s: %v\nlogs:\n%s", c.Name, err, lastLines(c.Logs(t), 30))
	}
	conn.Close()
}

// WaitHTTP waits up to timeout for GET url to answer and returns the status
// code and body, failing the test with the container's logs when it does not.
func (c *Container) WaitHTTP(t testing.TB, url string, timeout time.Duration) (int, string) {
	t.Helper()
	code, body, err := GetWait(url, timeout)
	if err != nil {
		t.Fatalf("container %s: %v\nlogs:\n%s", c.Name, err, lastLines(c.Logs(t), 30))
	}
	return code, body
}
