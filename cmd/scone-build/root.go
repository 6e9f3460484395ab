package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/internal/buildenv"
	"github.com/scone-build/scone-build/pkg/version"
)

// app carries what every command shares: the streams and the logger. Commands
// parse their flags into an options struct and call one library function.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	// verbose enables debug logging on stderr.
	verbose bool
	// date stamps what commands write (image created time, SIGSTRUCT DATE):
	// SOURCE_DATE_EPOCH, read once here, else the Unix epoch.
	date time.Time
}

// commands is filled by init functions of the files in this package, one per
// command, so that commands can be added without touching this file.
var commands []func(*app) *cobra.Command

func register(f func(*app) *cobra.Command) { commands = append(commands, f) }

// hinters turn library errors into exit codes and fix-it text. Each command
// file registers the hints for the errors its packages define.
var hinters []func(error) (code int, hint string, ok bool)

func registerHints(f func(error) (int, string, bool)) { hinters = append(hinters, f) }

// Exit codes; docs/exit-codes.md is the reference.
const (
	exitOK            = 0
	exitInternal      = 1
	exitUsage         = 2
	exitBadInput      = 3
	exitVerification  = 4
	exitKey           = 5
	exitCompatibility = 6
	exitIO            = 7
)

// usageError marks errors in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "scone-build",
		Short: "Convert OCI images into confidential (SGX) images with a shield runtime",
		Long: `scone-build converts an ordinary OCI image into a confidential image: its
file system is encrypted and authenticated into a protected FS image, the
enclave is measured (MRENCLAVE) and signed (SIGSTRUCT), and the image's
entrypoint becomes the scone-run shield runtime.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(),
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			level := slog.LevelWarn
			if a.verbose {
				level = slog.LevelDebug
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.PersistentFlags().BoolVarP(&a.verbose, "verbose", "v", false, "log debug messages to stderr")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	subs := make([]*cobra.Command, 0, len(commands))
	for _, f := range commands {
		subs = append(subs, f(a))
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
	root.AddCommand(subs...)
	return root
}

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr,
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), date: time.Unix(0, 0).UTC()}
	if t, set, err := buildenv.SourceDateEpoch(os.Getenv); err != nil {
		fmt.Fprintf(stderr, "scone-build: error: %v\n  hint: set SOURCE_DATE_EPOCH to seconds since 1970 (reproducible-builds.org), or unset it\n", err)
		return exitUsage
	} else if set {
		a.date = t
	}
	root := newRoot(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code, hint := classify(err)
	fmt.Fprintf(stderr, "scone-build: error: %v\n", err)
	if hint != "" {
		for _, line := range strings.Split(hint, "\n") {
			fmt.Fprintf(stderr, "  hint: %s\n", line)
		}
	}
	return code
}

// classify maps an error to an exit code and a fix-it hint.
func classify(err error) (int, string) {
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage, ""
	}
	if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") ||
		strings.Contains(err.Error(), "accepts ") && strings.Contains(err.Error(), " arg(s)") {
		return exitUsage, "run 'scone-build --help' for the list of commands and flags"
	}
	for _, h := range hinters {
		if code, hint, ok := h(err); ok {
			return code, hint
		}
	}
	if errors.Is(err, context.Canceled) {
		return exitInternal, "interrupted"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return exitIO, fmt.Sprintf("check that %q exists and is readable/writable", pe.Path)
	}
	return exitInternal, ""
}
