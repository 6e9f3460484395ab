package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Exit codes: this table and docs/exit-codes.md say the same
// (TestExitCodesDocumented).
const (
	exitOK            = 0
	exitInternal      = 1
	exitUsage         = 2
	exitBadInput      = 3
	exitVerification  = 4
	exitKey           = 5
	exitCompatibility = 6
	exitIO            = 7
	exitRefused       = 8 // the CAS refused the request for its state (unknown policy, not the current version)
)

// exitCodes names every code, as docs/exit-codes.md does.
var exitCodes = map[int]string{
	exitOK:            "success",
	exitInternal:      "internal error",
	exitUsage:         "usage error",
	exitBadInput:      "bad input",
	exitVerification:  "verification failed",
	exitKey:           "key problem",
	exitCompatibility: "compatibility",
	exitIO:            "I/O",
	exitRefused:       "CAS refused",
}

// usageError marks errors in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// hints turn the errors the libraries return into an exit code and fix-it
// text: the one table, in the order it is consulted. Each entry is the
// function next to the command whose packages define the errors.
var hints = []func(error) (code int, hint string, ok bool){
	casHints,
	consoleHints,
	convertHints,
	fsHints,
	inspectHints,
	keyHints,
	keygenHints,
	quoteHints,
	volumeHints,
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
	for _, h := range hints {
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
