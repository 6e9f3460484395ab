package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/console"
	"github.com/scone-build/scone-build/pkg/fskey"
)

// consoleKeyError marks a problem with the --fs-key of the console command.
type consoleKeyError struct{ err error }

func (e consoleKeyError) Error() string { return e.err.Error() }
func (e consoleKeyError) Unwrap() error { return e.err }

func newConsoleCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Work with console-shield output (encrypted stdout/stderr records)",
	}
	var keyFile string
	dec := &cobra.Command{
		Use:   "decrypt --fs-key FILE [IN|-]",
		Short: "Authenticate and decrypt console-shield records to stdout",
		Long: `Decrypts the stdout or stderr log of a program run with the console shield on
(docs/console.md). Every record is authenticated before its plaintext is
written; a modified, reordered, dropped or truncated stream is an error
(exit code 4) after the plaintext authenticated so far has been written.
IN defaults to standard input ("-").`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" {
				return usagef("decrypt console stream: --fs-key is required")
			}
			kf, err := fskey.Load(keyFile)
			if err != nil {
				return consoleKeyError{err}
			}
			k := kf.Key
			var in io.Reader = a.stdin
			name := "-"
			if len(args) == 1 && args[0] != "-" {
				name = args[0]
				f, err := os.Open(name)
				if err != nil {
					return fmt.Errorf("open console stream %q: %w", name, err)
				}
				defer f.Close()
				in = f
			}
			a.log.Debug("decrypting console stream", "input", name)
			if err := console.Decrypt(a.stdout, in, k); err != nil {
				return fmt.Errorf("decrypt console stream %q: %w", name, err)
			}
			return nil
		},
	}
	dec.Flags().StringVar(&keyFile, "fs-key", "", "FS key file the image was converted with (docs/keys.md)")
	cmd.AddCommand(dec)
	return cmd
}

func consoleHints(err error) (int, string, bool) {
	var ke consoleKeyError
	switch {
	case errors.As(err, &ke):
		return exitKey, "pass the FS key file the image was converted with (--fs-key): what 'scone-build keygen' wrote, or 64 hex digits", true
	case errors.Is(err, console.ErrTampered):
		return exitVerification, "the records do not authenticate: the log was modified, or --fs-key is not the key the image was converted with", true
	case errors.Is(err, console.ErrReordered):
		return exitVerification, "authentic records are missing, duplicated or out of order: the log was tampered with", true
	case errors.Is(err, console.ErrTruncated):
		return exitVerification, "the log ends before the program's final record: it was cut off, or the program was killed before exiting", true
	case errors.Is(err, console.ErrFormat), errors.Is(err, console.ErrVersion):
		return exitBadInput, "the input is not console-shield output (was the image converted with the console shield on?)", true
	}
	return 0, "", false
}
