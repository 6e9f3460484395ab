package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// protocol: one request and its whole response on a connection.
type protocol interface {
	// prepare runs once before the load (e.g. stores the key the load reads).
	prepare(c *conn, valueSize int) error
	request(c *conn) error
}

var protocols = map[string]protocol{
	"http":      httpGet{},
	"redis":     redisGet{},
	"memcached": memcachedGet{},
}

const key = "loadgen:key"

// ---- HTTP/1.1 GET / with keep-alive ----

type httpGet struct{}

var httpRequest = []byte("GET / HTTP/1.1\r\nHost: loadgen\r\nUser-Agent: loadgen\r\n\r\n")

func (httpGet) prepare(*conn, int) error { return nil }

func (httpGet) request(c *conn) error {
	if _, err := c.c.Write(httpRequest); err != nil {
		return err
	}
	return readHTTPResponse(c.rd)
}

// readHTTPResponse reads a response with a Content-Length body (what nginx
// sends for a static file) or a chunked one.
func readHTTPResponse(rd *bufio.Reader) error {
	status, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(status, "HTTP/1.") || len(status) < 12 {
		return fmt.Errorf("not an HTTP response: %q", strings.TrimSpace(status))
	}
	if status[9] != '2' {
		return fmt.Errorf("HTTP status %q", strings.TrimSpace(status[9:]))
	}
	length, chunked := -1, false
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("malformed header line %q", line)
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(name) {
		case "content-length":
			if length, err = strconv.Atoi(value); err != nil || length < 0 {
				return fmt.Errorf("bad Content-Length %q", value)
			}
		case "transfer-encoding":
			chunked = strings.EqualFold(value, "chunked")
		}
	}
	if chunked {
		return readChunked(rd)
	}
	if length < 0 {
		return errors.New("response without Content-Length (keep-alive needs one)")
	}
	_, err = rd.Discard(length)
	return err
}

func readChunked(rd *bufio.Reader) error {
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return err
		}
		size, _, _ := strings.Cut(strings.TrimSpace(line), ";")
		n, err := strconv.ParseInt(size, 16, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("bad chunk size %q", size)
		}
		if _, err := rd.Discard(int(n) + 2); err != nil {
			return err
		}
		if n == 0 {
			return nil // no trailers from the servers measured
		}
	}
}

// ---- redis: GET of one key (RESP) ----

type redisGet struct{}

var redisRequest = []byte(fmt.Sprintf("*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key))

func (redisGet) prepare(c *conn, size int) error {
	v := bytes.Repeat([]byte{'v'}, size)
	return command(c, fmt.Sprintf("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(v), v), "+OK")
}

// command sends cmd and wants the one-line answer want.
func command(c *conn, cmd, want string) error {
	if _, err := io.WriteString(c.c, cmd); err != nil {
		return err
	}
	line, err := c.rd.ReadString('\n')
	if err != nil {
		return err
	}
	if line != want+"\r\n" {
		return fmt.Errorf("%s answered %q", strings.Fields(cmd)[0], strings.TrimSpace(line))
	}
	return nil
}

func (redisGet) request(c *conn) error {
	if _, err := c.c.Write(redisRequest); err != nil {
		return err
	}
	return readRESPBulk(c.rd)
}

// readRESPBulk reads a bulk string reply ($n, or $-1 for none).
func readRESPBulk(rd *bufio.Reader) error {
	line, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	if len(line) < 4 || line[0] != '$' || !strings.HasSuffix(line, "\r\n") {
		return fmt.Errorf("not a bulk reply: %q", strings.TrimSpace(line))
	}
	n, err := strconv.Atoi(line[1 : len(line)-2])
	if err != nil || n < -1 {
		return fmt.Errorf("bad bulk length %q", strings.TrimSpace(line))
	}
	if n == -1 {
		return errors.New("GET found no value")
	}
	_, err = rd.Discard(n + 2)
	return err
}

// ---- memcached: get of one key (text protocol) ----

type memcachedGet struct{}

var memcachedRequest = []byte("get " + key + "\r\n")

func (memcachedGet) prepare(c *conn, size int) error {
	v := bytes.Repeat([]byte{'v'}, size)
	return command(c, fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", key, len(v), v), "STORED")
}

func (memcachedGet) request(c *conn) error {
	if _, err := c.c.Write(memcachedRequest); err != nil {
		return err
	}
	return readMemcachedValue(c.rd)
}

// readMemcachedValue reads "VALUE <key> <flags> <bytes>\r\n<data>\r\nEND\r\n".
func readMemcachedValue(rd *bufio.Reader) error {
	line, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	f := strings.Fields(line)
	if len(f) == 1 && f[0] == "END" {
		return errors.New("get found no value")
	}
	if len(f) < 4 || f[0] != "VALUE" {
		return fmt.Errorf("not a get reply: %q", strings.TrimSpace(line))
	}
	n, err := strconv.Atoi(f[3])
	if err != nil || n < 0 {
		return fmt.Errorf("bad value length %q", f[3])
	}
	if _, err := rd.Discard(n + 2); err != nil {
		return err
	}
	end, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	if end != "END\r\n" {
		return fmt.Errorf("get reply not ended: %q", strings.TrimSpace(end))
	}
	return nil
}
