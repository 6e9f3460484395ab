package imageref

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnsupportedPlatform is wrapped by *PlatformError.
var ErrUnsupportedPlatform = errors.New("unsupported platform")

// ErrNotImage is returned when a reference names something that is not an
// image (a dir: root file system opened as an image).
var ErrNotImage = errors.New("not an image")

// ErrNotFound is returned when the reference names no image (missing layout,
// archive, tag or manifest).
var ErrNotFound = errors.New("image not found")

// ErrCorrupt is wrapped when an archive or layout cannot be parsed.
var ErrCorrupt = errors.New("corrupt image")

// PlatformError says that the requested or only available platform cannot
// run SGX enclaves, or that an index lacks the requested platform.
type PlatformError struct {
	Want      string
	Available []string
	Reason    string
}

func (e *PlatformError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "platform %s", e.Want)
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	if len(e.Available) > 0 {
		fmt.Fprintf(&b, " (image has: %s)", strings.Join(e.Available, ", "))
	}
	return b.String()
}

func (e *PlatformError) Unwrap() error { return ErrUnsupportedPlatform }
