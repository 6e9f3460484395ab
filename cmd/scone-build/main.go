// Command scone-build converts ordinary OCI images into SCONE-style
// confidential images: protected file system, signed enclave, shield runtime.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/scone-build/scone-build/internal/buildenv"
)

func main() {
	if p, ok := buildenv.GCPercent(os.Getenv); ok {
		debug.SetGCPercent(p)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
