package policy

import (
	"encoding/hex"
	"fmt"
	"slices"
)

// Evidence is what an attestation established about an enclave.
type Evidence struct {
	MRENCLAVE  [32]byte
	MRSIGNER   [32]byte
	ISVProdID  uint16
	ISVSVN     uint16
	Debug      bool
	Simulation bool   // a simulation quote: no hardware protection
	TCBStatus  string // of a DCAP verification; "" for simulation
}

// NotAcceptedError says why a policy refuses an enclave; it wraps
// ErrNotAccepted. The CAS returns Reason to the enclave.
type NotAcceptedError struct {
	Policy string
	Reason string
}

func (e *NotAcceptedError) Error() string {
	return fmt.Sprintf("policy %q does not accept the enclave: %s", e.Policy, e.Reason)
}

func (e *NotAcceptedError) Is(target error) bool { return target == ErrNotAccepted }

// Match returns nil when the policy accepts the enclave, else a
// *NotAcceptedError. It does not count activations (the CAS does).
func (p *Policy) Match(ev Evidence) error {
	no := func(format string, a ...any) error {
		return &NotAcceptedError{Policy: p.Name, Reason: fmt.Sprintf(format, a...)}
	}
	if ev.Simulation && !p.Accept.Simulation {
		return no("it runs in simulation mode (no hardware protection), and the policy does not accept simulation (accept.simulation)")
	}
	if ev.Debug && !p.Accept.Debug {
		return no("it is a DEBUG enclave (its memory can be read by a debugger), and the policy does not accept debug enclaves (accept.debug)")
	}
	if !ev.Simulation && !slices.Contains(p.Accept.TCBStatuses, ev.TCBStatus) {
		return no("its platform's TCB status is %s, the policy accepts %v (accept.tcb_statuses)", ev.TCBStatus, p.Accept.TCBStatuses)
	}
	mre := hex.EncodeToString(ev.MRENCLAVE[:])
	mrs := hex.EncodeToString(ev.MRSIGNER[:])
	for _, e := range p.Enclaves {
		if len(e.MRENCLAVE) > 0 {
			for _, m := range e.MRENCLAVE {
				if hexEqual(m, mre) {
					return nil
				}
			}
			continue
		}
		if hexEqual(e.MRSIGNER, mrs) && *e.ISVProdID == ev.ISVProdID && ev.ISVSVN >= *e.MinISVSVN {
			return nil
		}
	}
	return no("MRENCLAVE %s (MRSIGNER %s, ISVPRODID %d, ISVSVN %d) is not one of the policy's enclaves", mre, mrs, ev.ISVProdID, ev.ISVSVN)
}

func hexEqual(a, b string) bool {
	x, err1 := hex.DecodeString(a)
	y, err2 := hex.DecodeString(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
