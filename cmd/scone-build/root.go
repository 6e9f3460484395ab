package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
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
	root.AddCommand(
		newAttachSignatureCmd(a),
		newCASCmd(a),
		newCheckCmd(a),
		newConsoleCmd(a),
		newConvertCmd(a),
		newFSCmd(a),
		newInspectCmd(a),
		newKeyCmd(a),
		newKeygenCmd(a),
		newQuoteCmd(a),
		newRewriteCmd(a),
		newSignDataCmd(a),
		newVerifyCmd(a),
		newVersionCmd(a),
		newVolumeCmd(a),
	)
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
