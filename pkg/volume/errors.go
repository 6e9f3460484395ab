package volume

import (
	"errors"
	"fmt"
)

var (
	// ErrWrongKey means the volume was made with another key (or is mounted
	// at another path than the one its key was derived for).
	ErrWrongKey = errors.New("wrong volume key: the volume was made with another key or for another path")
	// ErrNotVolume means the directory holds files but no volume header:
	// it is not a protected volume, and Create refuses to take it.
	ErrNotVolume = errors.New("not a protected volume (a directory with other files and no volume header)")
	// ErrReadOnly means a change was asked of a volume opened with ReadOnly.
	ErrReadOnly = errors.New("volume opened read-only")
)

// Parts of a volume named by AuthError.Part.
const (
	PartHeader   = "header"   // the header MAC
	PartSnapshot = "snapshot" // the metadata snapshot
	PartLog      = "log"      // a commit of the log (only when it is not the last)
	PartPage     = "page"     // a data page of a file
	PartTag      = "tag"      // a tag page of a file
	PartMissing  = "missing"  // a file's host file (or one of its pages) is missing
)

// AuthError reports that part of a volume failed authentication: it was
// modified, replaced, truncated or removed on the host.
type AuthError struct {
	Part  string // PartHeader, PartSnapshot, PartLog, PartPage, PartTag, PartMissing
	Path  string // the file's path in the volume, when known
	Index uint64 // the page (data or tag) number, or the version of a commit
	Level int    // for PartTag: the tag page's level
	Msg   string // optional detail
}

func (e *AuthError) Error() string {
	var s string
	switch e.Part {
	case PartPage:
		s = fmt.Sprintf("authenticate page %d of %q: volume data modified", e.Index, e.Path)
	case PartTag:
		s = fmt.Sprintf("authenticate tag page %d/%d of %q: volume data modified", e.Level, e.Index, e.Path)
	case PartMissing:
		s = fmt.Sprintf("read %q: its data is missing or truncated on the host", e.Path)
	case PartLog:
		s = fmt.Sprintf("authenticate commit %d: volume log modified", e.Index)
	default:
		s = fmt.Sprintf("authenticate volume %s: modified", e.Part)
	}
	if e.Msg != "" {
		s += " (" + e.Msg + ")"
	}
	return s
}

// UnknownVersionError reports a volume of a format version this package
// does not read.
type UnknownVersionError struct {
	Version uint32
}

func (e *UnknownVersionError) Error() string {
	return fmt.Sprintf("read volume: unknown format version %d (this build reads version %d)", e.Version, Version)
}

// FormatError reports a structural problem in one of the volume's host
// files (after authentication, a rule of the metadata that does not hold).
type FormatError struct {
	File string // host file name in the volume directory
	Msg  string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("parse volume file %q: %s", e.File, e.Msg)
}

func formatErr(file, format string, a ...any) error {
	return &FormatError{File: file, Msg: fmt.Sprintf(format, a...)}
}
