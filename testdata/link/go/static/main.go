// Command static is built with CGO_ENABLED=0 for the pkg/link tests.
package main

import (
	"fmt"
	"os"
	"os/exec"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Println(exec.Command(os.Args[1]).Run())
	}
	fmt.Println("hello")
}
