package cas

import (
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"
)

// AuditEvent is one line of the audit log (JSON). It names policies,
// versions, enclaves and outcomes, never a secret: the reasons it carries
// are the CAS's own texts.
type AuditEvent struct {
	Time       time.Time `json:"time"`
	Event      string    `json:"event"` // attest, volume, apply, delete, read, export, list
	Policy     string    `json:"policy,omitempty"`
	Hash       string    `json:"hash,omitempty"`
	MRENCLAVE  string    `json:"mrenclave,omitempty"`
	MRSIGNER   string    `json:"mrsigner,omitempty"`
	ISVProdID  *uint16   `json:"isvprodid,omitempty"`
	ISVSVN     *uint16   `json:"isvsvn,omitempty"`
	Simulation bool      `json:"simulation"`
	TCBStatus  string    `json:"tcb_status,omitempty"`
	Outcome    string    `json:"outcome"` // released, refused, retry, ok, denied, failed
	Reason     string    `json:"reason,omitempty"`
	Activation uint64    `json:"activation,omitempty"` // the activation this release counted
	Owner      string    `json:"owner,omitempty"`      // key ID of the owner who signed
	Secrets    []string  `json:"secrets,omitempty"`    // names (never values) of exported secrets
	Client     string    `json:"client,omitempty"`     // the enclave's client description
	Remote     string    `json:"remote,omitempty"`
	Volume     string    `json:"volume,omitempty"` // volume events: the volume path
}

// auditLog writes events as JSON lines; a failed write is logged, never
// fatal.
type auditLog struct {
	mu  sync.Mutex
	w   io.Writer
	log *slog.Logger
}

func (a *auditLog) write(e *AuditEvent) {
	b, err := json.Marshal(e)
	if err != nil {
		a.log.Error("encoding audit event", "event", e.Event, "err", err)
		return
	}
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.w.Write(b); err != nil {
		a.log.Error("writing audit log", "event", e.Event, "policy", e.Policy, "err", err)
	}
}
