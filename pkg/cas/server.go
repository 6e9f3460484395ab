package cas

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"time"

	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/casproto"
)

// Server is the CAS: the enclave protocol and the owner API over one
// http.Handler (docs/cas.md). It is safe for concurrent use.
type Server struct {
	store    Store
	log      *slog.Logger
	audit    *auditLog
	now      func() time.Time
	version  string
	key      *ecdsa.PrivateKey
	id       ID
	cert     tls.Certificate
	nonces   *nonceTable
	verifier *attest.Verifier
	colls    []*attest.Collateral
	simKeys  map[[64]byte]*ecdsa.PublicKey
	simIDs   []string
	versions versionCache
	mux      *http.ServeMux
	// attested sessions unused for this long are forgotten (volume.go)
	sessionTTL time.Duration

	selfQuote []byte // GET /v1/id: the quote of the CAS's enclave (WithSelfQuote)
	mrenclave string // and its MRENCLAVE, hex

	// verify verifies a quote (verifyQuote; tests replace it).
	verify func(*attest.Quote) (*attest.Result, error)
}

// New returns a Server configured by opts (see the With... options for
// the defaults).
func New(opts ...Option) (*Server, error) {
	c := config{nonceTTL: DefaultNonceTTL, maxNonces: DefaultMaxNonces, now: time.Now, version: "dev", sessionTTL: DefaultSessionTTL}
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.audit == nil {
		c.audit = io.Discard
	}
	if c.store == nil {
		c.store = NewMemoryStore()
		c.log.Warn("no store configured: the CAS keeps its state in memory and forgets it when it ends")
	}
	if c.identity == nil {
		k, err := GenerateIdentityKey()
		if err != nil {
			return nil, err
		}
		c.identity = k
	}
	s := &Server{store: c.store, log: c.log, audit: &auditLog{w: c.audit, log: c.log}, now: c.now, version: c.version, sessionTTL: c.sessionTTL,
		selfQuote: c.selfQuote, key: c.identity, colls: c.collaterals, simKeys: map[[64]byte]*ecdsa.PublicKey{}, versions: versionCache{m: map[[32]byte]*version{}}}
	var err error
	if s.id, err = KeyID(&c.identity.PublicKey); err != nil {
		return nil, err
	}
	if s.cert, err = selfSignedCert(c.identity, c.now()); err != nil {
		return nil, err
	}
	if c.selfQuote != nil {
		q, err := attest.ParseQuote(c.selfQuote)
		if err != nil {
			return nil, fmt.Errorf("%w: the CAS's own quote: %v", ErrConfig, err)
		}
		if q.Body.ReportData != IDReportData(s.id) {
			return nil, fmt.Errorf("%w: the CAS's own quote does not bind its CAS ID %s (IDReportData)", ErrConfig, s.id)
		}
		s.mrenclave = hex.EncodeToString(q.Body.MRENCLAVE[:])
	}
	if s.verifier, err = attest.NewVerifier(c.verifierOpts...); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	for _, k := range c.simulationKeys {
		pt, err := k.Bytes()
		if err != nil {
			return nil, fmt.Errorf("%w: simulation key: %v", ErrConfig, err)
		}
		s.simKeys[[64]byte(pt[1:])] = k
		kid, _ := KeyID(k)
		s.simIDs = append(s.simIDs, kid.String())
	}
	sort.Strings(s.simIDs)
	s.nonces = newNonceTable(c.nonceTTL, c.maxNonces, c.now)
	s.verify = s.verifyQuote
	s.routes()
	return s, nil
}

// ID is the CAS ID: what clients pin.
func (s *Server) ID() ID { return s.id }

// Certificate is the TLS certificate of the identity key.
func (s *Server) Certificate() tls.Certificate { return s.cert }

// Handler serves the enclave protocol and the owner API (behind TLS:
// TLSConfig, or Serve).
func (s *Server) Handler() http.Handler { return s.mux }

// TLSConfig is the server's TLS configuration: TLS 1.2 or later with the
// identity certificate; for TLS 1.2 the ECDHE-ECDSA AEAD suites the
// runtime offers.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{s.cert},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: []string{"http/1.1"},
	}
}

// Serve serves TLS connections from ln until ctx ends; then it stops
// accepting, lets running requests finish (up to 5 s) and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	go s.sweepLoop(ctx)
	return serveTLS(ctx, ln, s.mux, s.TLSConfig(), s.log)
}

// serveTLS is Serve for any handler and TLS configuration.
func serveTLS(ctx context.Context, ln net.Listener, h http.Handler, cfg *tls.Config, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	err := srv.Serve(tls.NewListener(ln, cfg))
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return err
}

func (s *Server) routes() {
	m := http.NewServeMux()
	for _, r := range []struct {
		method, path string
		h            http.HandlerFunc
	}{
		{"POST", casproto.PathChallenge, s.handleChallenge},
		{"POST", casproto.PathAttest, s.handleAttest},
		{"POST", casproto.PathVolume, s.handleVolume},
		{"GET", "/v1/id", s.handleID},
		{"POST", "/v1/nonce", s.handleNonce},
		{"PUT", "/v1/policies/{name}", s.handleApply},
		{"DELETE", "/v1/policies/{name}", s.handleDelete},
		{"POST", "/v1/policies/{name}/read", s.handleRead},
		{"POST", "/v1/policies/{name}/export", s.handleExport},
		{"POST", "/v1/policies/list", s.handleList},
	} {
		m.HandleFunc(r.method+" "+r.path, r.h)
	}
	for path, allow := range map[string]string{casproto.PathChallenge: "POST", casproto.PathAttest: "POST", casproto.PathVolume: "POST", "/v1/id": "GET",
		"/v1/nonce": "POST", "/v1/policies/{name}": "PUT, DELETE", "/v1/policies/{name}/read": "POST",
		"/v1/policies/{name}/export": "POST"} {
		m.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			textError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, allow))
		})
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		textError(w, http.StatusNotFound, fmt.Sprintf("unknown path %s %s (docs/cas.md lists the CAS protocol's requests)", r.Method, r.URL.Path))
	})
	s.mux = m
}

// textError answers with a one-line text/plain reason (the enclave
// protocol's errors).
func textError(w http.ResponseWriter, status int, reason string) {
	body := []byte(reason + "\n")
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
}

func writeBinary(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h.Set("Content-Type", casproto.ContentType)
	h.Set("Content-Length", fmt.Sprint(len(b)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
