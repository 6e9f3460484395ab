package frontend

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Frontend option and build-argument prefixes that select conversion options.
// `--opt scone-heap=64M` and `--opt build-arg:SCONE_HEAP=64M` both become
// `--heap=64M` on the `scone-build convert` command line; the frontend option
// wins when both are given.
const (
	OptPrefix      = "scone-"
	BuildArgPrefix = "build-arg:SCONE_"
)

// Keys of BuildKit frontend options the frontend reads or rewrites.
const (
	keySource    = "source"    // the gateway frontend image (set by BuildKit for `# syntax=`)
	keyCmdline   = "cmdline"   // set by the Dockerfile frontend when it forwards to a gateway
	keyRequestID = "requestid" // subrequests (outline, targets, lint, ...): answered by the Dockerfile frontend
	keyEpoch     = "build-arg:SOURCE_DATE_EPOCH"
)

// ErrReservedOption is returned for a conversion option the frontend sets
// itself (the key paths, the source config, --json).
var ErrReservedOption = errors.New("option is set by the frontend and cannot be given")

// reserved are `scone-build convert` flags the frontend owns or that make no
// sense for a dir: source (the keys come from BuildKit secrets; there is no
// shell for --sign-cmd in the frontend image).
var reserved = map[string]bool{
	"key": true, "fs-key": true, "source-config": true, "json": true,
	"sign-cmd": true, "signer-pub": true, "insecure": true, "platform": true,
}

// ConvertArgs turns the frontend options into extra `scone-build convert`
// flags, sorted by name so that the same options always give the same LLB
// (and so the same BuildKit cache key).
func ConvertArgs(opts map[string]string) ([]string, error) {
	flags := map[string]string{}
	fromOpt := map[string]bool{}
	for k, v := range opts {
		var name string
		var isOpt bool
		switch {
		case strings.HasPrefix(k, BuildArgPrefix):
			name = strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k, BuildArgPrefix)), "_", "-")
		case strings.HasPrefix(k, OptPrefix):
			name, isOpt = strings.TrimPrefix(k, OptPrefix), true
		default:
			continue
		}
		if !validFlagName(name) {
			return nil, fmt.Errorf("parsing frontend option %q: not a flag name (use letters, digits and dashes)", k)
		}
		if reserved[name] {
			return nil, fmt.Errorf("parsing frontend option %q: %w", k, ErrReservedOption)
		}
		if _, seen := flags[name]; seen && fromOpt[name] && !isOpt {
			continue // the frontend option wins over the build argument
		}
		flags[name] = v
		fromOpt[name] = fromOpt[name] || isOpt
	}
	names := make([]string, 0, len(flags))
	for n := range flags {
		names = append(names, n)
	}
	sort.Strings(names)
	args := make([]string, 0, len(names))
	for _, n := range names {
		args = append(args, "--"+n+"="+flags[n])
	}
	return args, nil
}

func validFlagName(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// DelegateOpts returns the frontend options for the built-in Dockerfile
// frontend: the same options without the gateway source and without the
// scone-* options, and with "cmdline" set, which tells the Dockerfile
// frontend not to follow the `# syntax=` line again (it would call this
// frontend recursively).
func DelegateOpts(opts map[string]string) map[string]string {
	out := make(map[string]string, len(opts)+1)
	for k, v := range opts {
		if k == keySource || strings.HasPrefix(k, OptPrefix) {
			continue
		}
		out[k] = v
	}
	if _, ok := out[keyCmdline]; !ok {
		out[keyCmdline] = "scone-frontend"
	}
	return out
}
