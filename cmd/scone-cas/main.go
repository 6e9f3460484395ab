// Command scone-cas runs the configuration and attestation service (CAS)
// as a plain binary: it keeps policies, attests enclaves and releases
// their secrets (docs/cas.md). `scone-cas serve` runs it; `scone-cas id`
// prints the CAS ID that clients pin.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/cas"
	"github.com/scone-build/scone-build/pkg/version"
)

// Exit codes (docs/exit-codes.md, scone-cas).
const (
	exitOK       = 0
	exitInternal = 1
	exitUsage    = 2
	exitBadInput = 3
	exitKey      = 5
	exitIO       = 7
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// app is what the commands share.
type app struct {
	stdout, stderr io.Writer
	verbose        bool
	// listening is called with the address serve listens on (tests).
	listening func(net.Addr)
	// platform is the enclave scone-cas runs in (default: /dev/attestation).
	platform enclavePlatform
}

type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// fixError carries an exit code and the fix for an error.
type fixError struct {
	err  error
	code int
	fix  string
}

func (e *fixError) Error() string { return e.err.Error() }
func (e *fixError) Unwrap() error { return e.err }

func withFix(code int, fix string, err error) error { return &fixError{err: err, code: code, fix: fix} }

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "scone-cas",
		Short: "The configuration and attestation service: policies, attestation, secrets",
		Long: `scone-cas keeps policies (docs/cas.md), attests enclaves (SGX DCAP quotes
with their collateral, or simulation quotes signed by a configured
simulation key) and releases the secrets a policy grants, sealed to the
attested enclave. Owners manage policies with 'scone-build cas'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(),
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "log debug messages")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(serveCommand(a), idCommand(a))
	return root
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return (&app{stdout: stdout, stderr: stderr}).run(ctx, args)
}

func (a *app) run(ctx context.Context, args []string) int {
	root := newRoot(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code, fix := classify(err)
	fmt.Fprintf(a.stderr, "scone-cas: error: %v\n", err)
	if fix != "" {
		fmt.Fprintf(a.stderr, "  hint: %s\n", fix)
	}
	return code
}

func classify(err error) (int, string) {
	var ue usageError
	var fe *fixError
	var afe *attest.FormatError
	switch {
	case errors.As(err, &ue):
		return exitUsage, ""
	case strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") ||
		strings.Contains(err.Error(), " arg(s)") || strings.HasPrefix(err.Error(), "required flag"):
		return exitUsage, "run 'scone-cas --help' for the commands and flags"
	case errors.As(err, &fe):
		return fe.code, fe.fix
	case errors.Is(err, cas.ErrCorrupt):
		return exitKey, "the store was written with another store key (or modified): pass the store key it was made with (--store-key-file)"
	case errors.Is(err, cas.ErrUnavailable):
		return exitIO, "another scone-cas holds this state directory: stop it, or use another --state"
	case errors.As(err, &afe):
		return exitBadInput, "--collateral must be the collateral JSON a PCCS hands out (docs/attestation.md)"
	case errors.Is(err, context.Canceled):
		return exitInternal, "interrupted"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return exitIO, fmt.Sprintf("check that %q exists and is readable/writable", pe.Path)
	}
	return exitInternal, ""
}

func (a *app) logger() *slog.Logger {
	level := slog.LevelInfo
	if a.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}
