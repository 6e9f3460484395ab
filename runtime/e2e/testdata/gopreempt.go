//go:build ignore

// Static Go program that needs asynchronous preemption (SIGURG delivered to
// a goroutine spinning without preemption points) to finish its GCs, plus
// a signal.Notify round trip.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

var sink int

func spin(stop *int32) {
	x := 0
	for *(*int32)(stop) == 0 { // no function calls: only async preemption stops it
		x++
	}
	sink = x
}

func main() {
	runtime.GOMAXPROCS(2)
	var stop int32
	go spin(&stop)
	time.Sleep(5 * time.Millisecond)
	for i := 0; i < 5; i++ {
		runtime.GC() // stop-the-world must preempt the spinner
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	select {
	case s := <-c:
		fmt.Println("got signal:", s)
	case <-time.After(5 * time.Second):
		fmt.Println("signal not delivered")
	}
	stop = 1
	fmt.Println("gc done")
}
