package link

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotELF is returned (wrapped) when a file does not start with the ELF
// magic and is not a "#!" script either.
var ErrNotELF = errors.New("not an ELF file")

// ErrNoEntrypoint is returned by Analyze when the image has neither an
// Entrypoint nor a Cmd (Entry.Argv is empty).
var ErrNoEntrypoint = errors.New("image has no entrypoint (Entrypoint and Cmd are empty)")

// ErrEntrypointNotFound is returned (wrapped, with the name) by Analyze when
// argv[0], or the interpreter of an entrypoint script, cannot be found in the
// image.
var ErrEntrypointNotFound = errors.New("entrypoint not found in the image")

// FormatError reports a malformed ELF file. Off is the file offset of the
// offending structure.
type FormatError struct {
	Off int64
	Msg string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("malformed ELF at offset %#x: %s", e.Off, e.Msg)
}

func formatErr(off int64, format string, a ...any) *FormatError {
	return &FormatError{Off: off, Msg: fmt.Sprintf(format, a...)}
}

// UnsupportedError reports a well-formed ELF file that the runtime cannot run
// at all: another class, byte order or machine than 64-bit little-endian
// x86-64.
type UnsupportedError struct {
	What  string // "class", "byte order" or "machine"
	Value string // e.g. "aarch64"
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("unsupported ELF %s %s (only 64-bit little-endian x86-64 is supported)", e.What, e.Value)
}

// IncompatibleError is returned by Report.Err when the entrypoint cannot run
// in the enclave. Reasons are the entrypoint's findings of severity
// unsupported, each with its fix.
type IncompatibleError struct {
	Path    string
	Reasons []Finding
}

func (e *IncompatibleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "entrypoint %s is unsupported", e.Path)
	for i, f := range e.Reasons {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Message)
	}
	return b.String()
}
