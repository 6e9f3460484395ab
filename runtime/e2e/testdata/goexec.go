// os/exec under scone-run: Go forks with clone(CLONE_VM|CLONE_VFORK) on the
// parent's stack and reports exec errors through a close-on-exec pipe.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// syscallExec replaces the process with syscall.Exec, as gosu and su-exec
// style entrypoints do, while goroutines block in accept, sleep and a
// channel receive and one spins (a Go program always has several threads).
func syscallExec(self string) {
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		go l.Accept()
	}
	go time.Sleep(time.Hour)
	go func() { <-make(chan int) }()
	go func() {
		for i := 0; ; i++ {
			_ = i * i
		}
	}()
	time.Sleep(20 * time.Millisecond)
	err := syscall.Exec(self, []string{self, "child", "after", "syscall.Exec"}, os.Environ())
	fmt.Println("syscall.Exec failed:", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		fmt.Printf("child says %s\n", strings.Join(os.Args[2:], " "))
		os.Exit(3)
	}
	self := os.Args[0]
	if len(os.Args) > 1 && os.Args[1] == "syscall-exec" {
		syscallExec(self)
	}
	out, err := exec.Command(self, "child", "hello", "from", "go").Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		fmt.Println("unexpected:", err)
		os.Exit(1)
	}
	fmt.Printf("output %q, exit %d\n", out, ee.ExitCode())
	cmd := exec.Command(self, "child", "piped")
	cmd.Stdin = strings.NewReader("ignored")
	var sb strings.Builder
	cmd.Stdout = &sb
	cmd.Run()
	fmt.Printf("piped %q\n", sb.String())
	_, err = exec.Command("/nonexistent/program").Output()
	fmt.Println("missing program fails:", err != nil)
}
