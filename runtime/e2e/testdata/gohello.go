//go:build ignore

// Static Go program (CGO_ENABLED=0): goroutines, channels, GC, timers.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

func main() {
	var wg sync.WaitGroup
	results := make([]int, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := 0
			for j := 0; j < 100000; j++ {
				s += j % (i + 1)
			}
			buf := make([]byte, 1<<20)
			buf[i] = byte(i)
			results[i] = s + int(buf[i])
		}(i)
	}
	wg.Wait()
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	total := 0
	for _, r := range results {
		total += r
	}
	host, _ := os.Hostname()
	fmt.Printf("go: total=%d args=%v host-ok=%v\n", total, os.Args[1:], host != "")
}
