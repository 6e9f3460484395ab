package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

type options struct {
	proto     string
	addr      string
	rate      float64 // requests/s over all connections; 0: closed loop
	conns     int
	duration  time.Duration
	warmup    time.Duration
	valueSize int
}

func (o options) validate() error {
	if _, ok := protocols[o.proto]; !ok {
		return fmt.Errorf("unknown protocol %q (http, redis, memcached)", o.proto)
	}
	if o.conns < 1 {
		return fmt.Errorf("-conns %d: at least one connection", o.conns)
	}
	if o.rate < 0 {
		return fmt.Errorf("-rate %g: not a rate (0 for a closed loop)", o.rate)
	}
	if o.duration <= 0 || o.warmup < 0 {
		return errors.New("-duration must be positive and -warmup not negative")
	}
	if o.valueSize < 1 || o.valueSize > 1<<20 {
		return fmt.Errorf("-value %d: between 1 byte and 1 MiB", o.valueSize)
	}
	return nil
}

// result: what one run measured.
type result struct {
	offered, achieved float64 // requests/s (offered 0: closed loop)
	lat               []time.Duration
	errors            int
}

func (r result) String() string {
	p := func(q float64) float64 {
		if len(r.lat) == 0 {
			return 0
		}
		i := int(q * float64(len(r.lat)))
		if i >= len(r.lat) {
			i = len(r.lat) - 1
		}
		return float64(r.lat[i].Nanoseconds()) / 1e3
	}
	return fmt.Sprintf("%.0f %.0f %.1f %.1f %.1f %.1f %.1f %d",
		r.offered, r.achieved, p(0.5), p(0.9), p(0.99), p(0.999), p(1), r.errors)
}

// conn: one connection's requests and its samples.
type conn struct {
	addr    string
	c       net.Conn
	rd      *bufio.Reader
	p       protocol
	lat     []time.Duration
	n       int // requests completed in the measured window
	done    int // requests completed on the current connection
	redials int
	err     error
}

func dial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }

// do sends one request. A server may close a keep-alive connection after
// some requests (nginx: keepalive_requests, 1,000 by default): a request
// that fails on a connection that served others is sent again on a new one.
func (c *conn) do() error {
	err := c.p.request(c)
	if err == nil {
		c.done++
		return nil
	}
	if c.done == 0 {
		return err
	}
	c.c.Close()
	nc, derr := dial(c.addr)
	if derr != nil {
		return fmt.Errorf("%w (reconnecting: %w)", err, derr)
	}
	c.c, c.done = nc, 0
	c.rd.Reset(nc)
	c.redials++
	return c.do()
}

func run(o options) (result, error) {
	if err := o.validate(); err != nil {
		return result{}, err
	}
	p := protocols[o.proto]
	cs := make([]*conn, o.conns)
	for i := range cs {
		c, err := dial(o.addr)
		if err != nil {
			closeAll(cs)
			return result{}, fmt.Errorf("connecting to %s: %w", o.addr, err)
		}
		cs[i] = &conn{addr: o.addr, c: c, rd: bufio.NewReaderSize(c, 64<<10), p: p}
	}
	defer closeAll(cs)
	if err := p.prepare(cs[0], o.valueSize); err != nil {
		return result{}, fmt.Errorf("preparing %s at %s: %w", o.proto, o.addr, err)
	}
	start := time.Now().Add(10 * time.Millisecond)
	from, end := start.Add(o.warmup), start.Add(o.warmup+o.duration)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.loop(o, i, start, from, end)
		}()
	}
	wg.Wait()
	r := result{offered: o.rate}
	n := 0
	for _, c := range cs {
		r.lat = append(r.lat, c.lat...)
		n += c.n
		if c.err != nil {
			r.errors++
		}
	}
	if n == 0 {
		for _, c := range cs {
			if c.err != nil {
				return r, fmt.Errorf("no request completed: %w", c.err)
			}
		}
		return r, errors.New("no request completed in the measured time")
	}
	slices.Sort(r.lat)
	r.achieved = float64(n) / o.duration.Seconds()
	return r, nil
}

func closeAll(cs []*conn) {
	for _, c := range cs {
		if c != nil {
			c.c.Close()
		}
	}
}

// grace: how long after the measured window a connection may still work
// off requests that were due within it.
const grace = time.Second

// loop: connection i's requests until end. Open loop: request k is due at
// start + (k + i/conns) * interval; its latency counts from then. Requests
// due in the window that a server too slow to keep up never got to by
// end+grace count with the time they had waited by then (a lower bound),
// and not as completed.
func (c *conn) loop(o options, i int, start, from, end time.Time) {
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.conns) / o.rate)
	}
	due := start.Add(interval * time.Duration(i) / time.Duration(o.conns))
	stop := end.Add(grace)
	for {
		now := time.Now()
		if interval > 0 {
			if due.After(end) {
				return
			}
			if now.After(stop) {
				for ; !due.After(end); due = due.Add(interval) {
					if !due.Before(from) {
						c.lat = append(c.lat, now.Sub(due))
					}
				}
				return
			}
			if d := due.Sub(now); d > 0 {
				time.Sleep(d)
			}
		} else {
			if now.After(end) {
				return
			}
			due = now
		}
		if err := c.do(); err != nil {
			c.err = err
			return
		}
		done := time.Now()
		if !due.Before(from) && !due.After(end) {
			c.lat = append(c.lat, done.Sub(due))
			c.n++
		}
		due = due.Add(interval)
	}
}
