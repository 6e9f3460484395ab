package cas

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/scone-build/scone-build/pkg/attest"
)

// RecoveryServer is a CAS in recovery mode (docs/cas.md, "Recovery"): it
// cannot open its sealed state, and collects the owners' shares of the
// recovery key until threshold of them recover it. It serves with a fresh
// TLS key of its own (its ID is not the CAS ID being recovered) and a
// quote whose REPORTDATA binds that key and the CAS ID, so that an owner
// hands a share only to an enclave it verified.
type RecoveryServer struct {
	file  *RecoveryFile
	id    ID
	cert  tls.Certificate
	quote []byte
	mre   string
	log   *slog.Logger

	mu     sync.Mutex
	shares map[byte][]byte
	done   chan *RecoveredState
	state  *RecoveredState
}

// RecoveryReportData is the REPORTDATA of a recovering CAS's quote:
// SHA-256("scone-cas recovery v1" || 0x00 || its TLS key's ID || the CAS
// ID it recovers) || 32 zero bytes.
func RecoveryReportData(key ID, casID string) [64]byte {
	h := sha256.New()
	h.Write([]byte(recoveryLabel))
	h.Write([]byte{0})
	h.Write(key[:])
	h.Write([]byte(casID))
	var rd [64]byte
	copy(rd[:], h.Sum(nil))
	return rd
}

// NewRecoveryServer prepares recovery of f in the enclave p (its quote).
func NewRecoveryServer(f *RecoveryFile, p Platform, log *slog.Logger) (*RecoveryServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, err := GenerateIdentityKey()
	if err != nil {
		return nil, err
	}
	id, err := KeyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	cert, err := selfSignedCert(key, time.Now())
	if err != nil {
		return nil, err
	}
	rd := RecoveryReportData(id, f.CASID)
	quote, err := p.Quote(rd)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSelfQuote, err)
	}
	q, err := attest.ParseQuote(quote)
	if err != nil || q.Body.ReportData != rd {
		return nil, fmt.Errorf("%w: the recovery quote does not carry the REPORTDATA written", ErrSelfQuote)
	}
	return &RecoveryServer{file: f, id: id, cert: cert, quote: quote, mre: hex.EncodeToString(q.Body.MRENCLAVE[:]), log: log,
		shares: map[byte][]byte{}, done: make(chan *RecoveredState, 1)}, nil
}

// ID is the ID of the recovery TLS key (not the CAS ID being recovered).
func (r *RecoveryServer) ID() ID { return r.id }

// RecoveryStatus answers POST /v1/recovery.
type RecoveryStatus struct {
	CASID     string `json:"cas_id"`
	Shares    int    `json:"shares"` // accepted so far
	Threshold int    `json:"threshold"`
	Recovered bool   `json:"recovered"`
}

// RecoveryRequest is an owner's share (x || y, hex).
type RecoveryRequest struct {
	Share string `json:"share"`
}

func (r *RecoveryServer) handler() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/id", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, IDResponse{CASID: r.id.String(), MRENCLAVE: r.mre, Quote: r.quote, Recovering: r.file.CASID})
	})
	m.HandleFunc("GET /v1/recovery", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, r.file) })
	m.HandleFunc("POST /v1/recovery", r.handleShare)
	return m
}

func (r *RecoveryServer) handleShare(w http.ResponseWriter, req *http.Request) {
	fail := func(status int, msg, fix string) {
		writeJSON(w, status, ErrorResponse{Error: msg, Fix: fix})
	}
	var body RecoveryRequest
	dec := json.NewDecoder(io.LimitReader(req.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		fail(http.StatusBadRequest, "reading the recovery request: "+err.Error(), `send {"share": "<66 hex digits>"}`)
		return
	}
	share, err := hex.DecodeString(body.Share)
	if err == nil {
		err = r.file.CheckShare(share)
	}
	if err != nil {
		r.log.Warn("recovery: a share refused", "err", err, "remote", req.RemoteAddr)
		fail(http.StatusBadRequest, err.Error(), "decrypt your share of this CAS's recovery data with your recovery key (scone-build cas recover)")
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == nil {
		r.shares[share[0]] = share
		r.log.Info("recovery: share accepted", "share", share[0], "shares", len(r.shares), "threshold", r.file.Threshold)
		if len(r.shares) >= r.file.Threshold {
			var all [][]byte
			for _, s := range r.shares {
				all = append(all, s)
			}
			st, err := r.file.Recover(all)
			if err != nil {
				// checked shares that do not open the sealed state: the file was modified
				fail(http.StatusConflict, err.Error(), "the recovery data in the state directory was modified: restore it from a backup")
				return
			}
			r.state = st
			r.done <- st
		}
	}
	writeJSON(w, http.StatusOK, RecoveryStatus{CASID: r.file.CASID, Shares: len(r.shares), Threshold: r.file.Threshold, Recovered: r.state != nil})
}

// Serve serves the recovery on ln until threshold owners' shares recover
// the state (returned) or ctx ends (nil, nil).
func (r *RecoveryServer) Serve(ctx context.Context, ln net.Listener) (*RecoveredState, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{r.cert}, NextProtos: []string{"http/1.1"}}
	go func() { errc <- serveTLS(sctx, ln, r.handler(), cfg, r.log) }()
	select {
	case st := <-r.done:
		cancel()
		<-errc // running requests (the last share's answer) finish
		return st, nil
	case err := <-errc:
		return nil, err // nil: ctx ended
	}
}

// VerifyRecoveryQuote is VerifySelfQuote for a recovering CAS: the quote
// verifies and binds key (the TLS key the connection proved) and casID.
func VerifyRecoveryQuote(quote []byte, key ID, casID string, verify func(*attest.Quote) (*attest.Result, error)) (*attest.Result, error) {
	return verifyBoundQuote(quote, RecoveryReportData(key, casID), "its TLS key and CAS ID "+casID, verify)
}

// ErrNotRecovering: the server is not a CAS in recovery mode.
var ErrNotRecovering = errors.New("the CAS is not in recovery mode")

// Recover hands the owner's share of the recovering CAS at the client's
// address to it: the server must be in recovery mode for casID (empty:
// whichever it says), its quote must pass verify and bind the TLS key of
// the connection, and the share is the one encrypted to priv in its
// recovery data. It returns the CAS's answer and what the quote says.
func (c *Client) Recover(ctx context.Context, priv *RecoveryPrivateKey, casID string, verify func(*attest.Quote) (*attest.Result, error)) (*RecoveryStatus, *attest.Result, error) {
	key, info, err := c.Identify(ctx)
	if err != nil {
		return nil, nil, err
	}
	if info.Recovering == "" {
		return nil, nil, fmt.Errorf("%w: %s serves CAS ID %s", ErrNotRecovering, c.addr, info.CASID)
	}
	if casID != "" && info.Recovering != casID {
		return nil, nil, fmt.Errorf("%w: %s recovers CAS ID %s, not %s", ErrNotRecovering, c.addr, info.Recovering, casID)
	}
	res, err := VerifyRecoveryQuote(info.Quote, key, info.Recovering, verify)
	if err != nil {
		return nil, nil, err
	}
	pinned, err := NewClient(c.addr, WithPin(key), WithTimeout(c.timeout))
	if err != nil {
		return nil, nil, err
	}
	var f RecoveryFile
	if err := pinned.do(ctx, http.MethodGet, "/v1/recovery", nil, &f); err != nil {
		return nil, res, err
	}
	if f.CASID != info.Recovering {
		return nil, res, fmt.Errorf("%w: its recovery data is for CAS ID %s, it says it recovers %s", ErrRecovery, f.CASID, info.Recovering)
	}
	share, err := f.OpenShare(priv)
	if err != nil {
		return nil, res, err
	}
	defer clear(share)
	var st RecoveryStatus
	if err := pinned.do(ctx, http.MethodPost, "/v1/recovery", RecoveryRequest{Share: hex.EncodeToString(share)}, &st); err != nil {
		return nil, res, err
	}
	return &st, res, nil
}
