package attest

import (
	"fmt"
	"slices"
	"strings"
)

// TCBStatus is the status of a platform's (or the quoting enclave's) TCB
// level, named as Intel's TCB info and QE identity name it (and as EGo's
// tcbstatus and MarbleRun's AcceptedTCBStatuses spell them). The zero value
// is no status (a simulation quote has none): it is never accepted.
type TCBStatus string

// The TCB statuses of TCB info version 3 and QE identity version 2.
const (
	TCBUpToDate                          TCBStatus = "UpToDate"
	TCBSWHardeningNeeded                 TCBStatus = "SWHardeningNeeded"
	TCBConfigurationNeeded               TCBStatus = "ConfigurationNeeded"
	TCBConfigurationAndSWHardeningNeeded TCBStatus = "ConfigurationAndSWHardeningNeeded"
	TCBOutOfDate                         TCBStatus = "OutOfDate"
	TCBOutOfDateConfigurationNeeded      TCBStatus = "OutOfDateConfigurationNeeded"
	TCBRevoked                           TCBStatus = "Revoked"
)

// TCBStatuses lists every status, best first.
var TCBStatuses = []TCBStatus{TCBUpToDate, TCBSWHardeningNeeded, TCBConfigurationNeeded,
	TCBConfigurationAndSWHardeningNeeded, TCBOutOfDate, TCBOutOfDateConfigurationNeeded, TCBRevoked}

// ParseTCBStatus returns the status s names (exactly, as Intel spells it).
func ParseTCBStatus(s string) (TCBStatus, error) {
	if slices.Contains(TCBStatuses, TCBStatus(s)) {
		return TCBStatus(s), nil
	}
	names := make([]string, len(TCBStatuses))
	for i, t := range TCBStatuses {
		names[i] = string(t)
	}
	return "", fmt.Errorf("unknown TCB status %q (one of %s)", s, strings.Join(names, ", "))
}

// Explain says what a status means and what to do about it.
func (s TCBStatus) Explain() string {
	switch s {
	case TCBUpToDate:
		return "the platform's TCB is up to date"
	case TCBSWHardeningNeeded:
		return "the platform is up to date, but enclaves need software mitigations for the advisories listed"
	case TCBConfigurationNeeded:
		return "the platform is up to date, but its configuration (BIOS) must change for the advisories listed"
	case TCBConfigurationAndSWHardeningNeeded:
		return "the platform is up to date, but needs configuration changes (BIOS) and enclaves need software mitigations for the advisories listed"
	case TCBOutOfDate:
		return "the platform's TCB is out of date: update its microcode/BIOS (or the quoting enclave)"
	case TCBOutOfDateConfigurationNeeded:
		return "the platform's TCB is out of date and its configuration must change: update microcode/BIOS"
	case TCBRevoked:
		return "the platform's TCB level is revoked: it cannot be trusted"
	}
	return "no TCB status"
}

// pickTCBLevel returns the first level (TCB info lists them best first) that
// the PCK certificate's SGX TCB components and PCESVN all reach.
func pickTCBLevel(levels []TCBLevel, comps [16]uint8, pcesvn uint16) (TCBLevel, bool) {
	for _, l := range levels {
		ok := pcesvn >= l.PCESVN
		for i := range comps {
			ok = ok && comps[i] >= l.SGXComponents[i]
		}
		if ok {
			return l, true
		}
	}
	return TCBLevel{}, false
}

// pickQELevel returns the first QE identity level the QE's ISVSVN reaches.
func pickQELevel(levels []QELevel, isvsvn uint16) (QELevel, bool) {
	for _, l := range levels {
		if isvsvn >= l.ISVSVN {
			return l, true
		}
	}
	return QELevel{}, false
}

// convergeTCB combines the platform's status with the quoting enclave's, as
// Intel's quote verification library does: an out-of-date QE makes an
// up-to-date platform out of date; a revoked QE revokes.
func convergeTCB(platform, qe TCBStatus) TCBStatus {
	switch qe {
	case TCBRevoked:
		return TCBRevoked
	case TCBOutOfDate:
		switch platform {
		case TCBUpToDate, TCBSWHardeningNeeded:
			return TCBOutOfDate
		case TCBConfigurationNeeded, TCBConfigurationAndSWHardeningNeeded:
			return TCBOutOfDateConfigurationNeeded
		}
	}
	return platform
}

// mergeAdvisories returns a's IDs then those of b not in a.
func mergeAdvisories(a, b []string) []string {
	out := slices.Clone(a)
	for _, id := range b {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
