// os/exec under scone-run: Go forks with clone(CLONE_VM|CLONE_VFORK) on the
// parent's stack and reports exec errors through a close-on-exec pipe.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		fmt.Printf("child says %s\n", strings.Join(os.Args[2:], " "))
		os.Exit(3)
	}
	self := os.Args[0]
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
