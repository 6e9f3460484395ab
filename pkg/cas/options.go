package cas

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/scone-build/scone-build/pkg/attest"
)

// Option configures a Server (New).
type Option func(*config)

type config struct {
	store          Store
	identity       *ecdsa.PrivateKey
	simulationKeys []*ecdsa.PublicKey
	collaterals    []*attest.Collateral
	verifierOpts   []attest.Option
	log            *slog.Logger
	audit          io.Writer
	now            func() time.Time
	nonceTTL       time.Duration
	maxNonces      int
	version        string
	selfQuote      []byte
	sessionTTL     time.Duration
}

// Defaults.
const (
	DefaultNonceTTL  = 60 * time.Second
	DefaultMaxNonces = 1 << 17
	// DefaultSessionTTL: an attested session that recorded no volume
	// state for this long is forgotten (docs/cas.md, "Volume state").
	DefaultSessionTTL = 30 * 24 * time.Hour
)

// WithStore keeps the state in s (default: a MemoryStore, which forgets
// everything when the process ends). The Server does not close it.
func WithStore(s Store) Option { return func(c *config) { c.store = s } }

// WithIdentityKey sets the CAS's identity key, whose CAS ID clients pin
// (default: a new key, so a new CAS ID at every start).
func WithIdentityKey(k *ecdsa.PrivateKey) Option { return func(c *config) { c.identity = k } }

// WithSimulationKeys accepts simulation quotes signed by these keys, for
// policies with accept.simulation (default: none: simulation quotes are
// refused).
func WithSimulationKeys(keys ...*ecdsa.PublicKey) Option {
	return func(c *config) { c.simulationKeys = append(c.simulationKeys, keys...) }
}

// WithCollateral verifies hardware quotes with this collateral (one per
// platform type; default: none: hardware quotes are refused).
func WithCollateral(cs ...*attest.Collateral) Option {
	return func(c *config) { c.collaterals = append(c.collaterals, cs...) }
}

// WithVerifierOptions passes options to the quote verifier (e.g.
// attest.WithTime for tests with an old collateral, attest.WithRootPublicKey
// for a test PKI).
func WithVerifierOptions(opts ...attest.Option) Option {
	return func(c *config) { c.verifierOpts = append(c.verifierOpts, opts...) }
}

// WithLogger logs operational messages (never secrets) to l (default:
// discarded).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithAuditLog writes the audit log, one JSON line per release, refusal
// and policy change, to w (default: discarded). Writes are serialized.
func WithAuditLog(w io.Writer) Option { return func(c *config) { c.audit = w } }

// WithClock replaces time.Now (nonce expiry, audit times).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithNonces sets how long a nonce is valid (default 60 s) and how many
// may be outstanding (default 131072); more are refused with ErrBusy.
func WithNonces(ttl time.Duration, max int) Option {
	return func(c *config) { c.nonceTTL, c.maxNonces = ttl, max }
}

// WithSelfQuote makes GET /v1/id report the enclave the CAS runs in:
// quote (SelfQuote), whose REPORTDATA must bind the CAS ID, and its
// MRENCLAVE (default: none, a CAS that does not run in an enclave).
func WithSelfQuote(quote []byte) Option {
	return func(c *config) { c.selfQuote = quote }
}

// WithSessionTTL forgets an attested session (its record key) when it has
// not been used to read or record volume state for ttl (at least a minute;
// default DefaultSessionTTL). Use is noted at most once an hour.
func WithSessionTTL(ttl time.Duration) Option { return func(c *config) { c.sessionTTL = ttl } }

// WithVersion sets the version the CAS reports in GET /v1/id.
func WithVersion(v string) Option { return func(c *config) { c.version = v } }

// ErrConfig is wrapped by configuration errors of New.
var ErrConfig = errors.New("invalid CAS configuration")

func (c *config) validate() error {
	bad := func(format string, a ...any) error { return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, a...)) }
	if c.sessionTTL != 0 && c.sessionTTL < time.Minute {
		return bad("session TTL %v: at least a minute", c.sessionTTL)
	}
	if c.identity != nil && c.identity.Curve != elliptic.P256() {
		return bad("the identity key is not on P-256")
	}
	for i, k := range c.simulationKeys {
		if k == nil || k.Curve != elliptic.P256() {
			return bad("simulation key %d is not an ECDSA P-256 public key", i+1)
		}
	}
	for i, col := range c.collaterals {
		if col == nil {
			return bad("collateral %d is nil", i+1)
		}
	}
	if c.nonceTTL <= 0 || c.maxNonces <= 0 {
		return bad("nonce lifetime %v and table size %d must be positive", c.nonceTTL, c.maxNonces)
	}
	if c.now == nil {
		return bad("no clock")
	}
	return nil
}
