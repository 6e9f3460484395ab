// Command loadgen offers a server a fixed request rate and reports the
// latency distribution (bench/servers-latency.sh draws latency against
// throughput from it, as the SCONE paper's evaluation does).
//
// The load is open-loop, as wrk2's: each connection has a schedule (request
// k due at start + k*conns/rate, the connections staggered), and a
// request's latency counts from the time it was due, not from when it was
// sent, so a server that stalls is charged for the requests that queued
// behind the stall (no coordinated omission). With -rate 0 the connections
// send back to back (closed loop): the server's peak throughput.
//
//	loadgen -proto http|redis|memcached -addr HOST:PORT -rate N -conns C -duration D
//
// Output, one line: offered/s achieved/s p50 p90 p99 p99.9 max (us) errors.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.proto, "proto", "http", "protocol: http (GET /, keep-alive), redis (GET), memcached (get)")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8080", "server address")
	flag.Float64Var(&o.rate, "rate", 0, "requests per second over all connections (0: closed loop)")
	flag.IntVar(&o.conns, "conns", 16, "connections")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "measured time")
	flag.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "time before the measurement (not counted)")
	flag.IntVar(&o.valueSize, "value", 32, "redis/memcached: bytes of the value set before the load")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "loadgen: unexpected argument %q (flags only; -h lists them)\n", flag.Arg(0))
		os.Exit(2)
	}
	r, err := run(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(r)
}
