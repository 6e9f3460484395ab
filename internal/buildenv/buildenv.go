// Package buildenv reads the build environment a binary honours. Each
// binary reads it once, in main, and passes the values to the libraries as
// options: libraries never read the environment.
package buildenv

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrSourceDateEpoch: SOURCE_DATE_EPOCH is set but not a number of seconds.
var ErrSourceDateEpoch = errors.New("SOURCE_DATE_EPOCH is not a non-negative number of seconds since 1970")

// SourceDateEpoch returns the time SOURCE_DATE_EPOCH names
// (reproducible-builds.org), in UTC, and whether it was set. getenv is
// os.Getenv in a binary.
func SourceDateEpoch(getenv func(string) string) (time.Time, bool, error) {
	s := getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Time{}, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, false, fmt.Errorf("reading SOURCE_DATE_EPOCH %q: %w", s, ErrSourceDateEpoch)
	}
	return time.Unix(n, 0).UTC(), true, nil
}
