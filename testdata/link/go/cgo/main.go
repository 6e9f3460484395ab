// Command cgo is built with CGO_ENABLED=1 for the pkg/link tests.
package main

/*
#include <stdlib.h>
static int twice(int x) { return 2 * x; }
*/
import "C"

import "fmt"

func main() {
	fmt.Println(C.twice(21), C.abs(-1))
}
