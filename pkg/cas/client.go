package cas

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scone-build/scone-build/pkg/policy"
)

// Client errors.
var (
	// ErrPin: the server's key is not the pinned CAS ID.
	ErrPin = errors.New("the CAS's key is not the pinned CAS ID")
	// ErrUnreachable: no TLS connection to the CAS.
	ErrUnreachable = errors.New("CAS unreachable")
	// ErrOwnerKey: the owner key is unusable.
	ErrOwnerKey = errors.New("unusable owner key")
)

// PinError says which key the server has; it wraps ErrPin.
type PinError struct{ Want, Got ID }

func (e *PinError) Error() string {
	return fmt.Sprintf("the CAS's key has CAS ID %s, not the pinned %s", e.Got, e.Want)
}

func (e *PinError) Is(target error) bool { return target == ErrPin }

// APIError is an owner API error answer.
type APIError struct {
	Status  int
	Message string
	Fix     string
}

func (e *APIError) Error() string { return e.Message }

// Is maps the status to the server's sentinels: 400 ErrRequest, 403
// policy.ErrSignature, 404 ErrNotFound, 409 ErrConflict, 429 ErrBusy, 503
// ErrUnavailable.
func (e *APIError) Is(target error) bool {
	m := map[int]error{400: ErrRequest, 403: policy.ErrSignature, 404: ErrNotFound, 409: ErrConflict, 429: ErrBusy, 503: ErrUnavailable}
	return m[e.Status] == target && target != nil
}

// Client speaks the owner API with a CAS over TLS, pinned to its CAS ID.
type Client struct {
	addr    string
	pin     *ID
	timeout time.Duration
	hc      *http.Client
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithPin makes the client accept only the CAS whose key has CAS ID id.
// Without a pin only Identify works.
func WithPin(id ID) ClientOption { return func(c *Client) { c.pin = &id } }

// WithTimeout bounds each request (default 30 s).
func WithTimeout(d time.Duration) ClientOption { return func(c *Client) { c.timeout = d } }

// NewClient returns a client for the CAS at addr (HOST:PORT).
func NewClient(addr string, opts ...ClientOption) (*Client, error) {
	addr = strings.TrimPrefix(addr, "https://")
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("CAS address %q: want HOST:PORT", addr)
	}
	c := &Client{addr: addr, timeout: 30 * time.Second}
	for _, o := range opts {
		o(c)
	}
	c.hc = &http.Client{Timeout: c.timeout, Transport: &http.Transport{
		TLSClientConfig:     c.tlsConfig(c.pin),
		ForceAttemptHTTP2:   false,
		TLSHandshakeTimeout: 10 * time.Second,
		Proxy:               nil,
	}}
	return c, nil
}

// tlsConfig checks the server's key against pin instead of a chain: the
// CAS's certificate is self-signed, its key is its identity.
func (c *Client) tlsConfig(pin *ID) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by VerifyConnection: the key must be the pinned CAS ID
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the CAS sent no certificate")
			}
			if pin == nil {
				return fmt.Errorf("no CAS ID pinned: refusing to send a request (pin the CAS ID that scone-build cas id shows)")
			}
			if got := certID(cs.PeerCertificates[0]); got != *pin {
				return &PinError{Want: *pin, Got: got}
			}
			return nil
		},
	}
}

// Identify connects, and returns the CAS ID of the server's key and what
// the server says about itself (GET /v1/id, over a connection pinned to
// that key). With a pin, a server with another key fails with a *PinError.
func (c *Client) Identify(ctx context.Context) (ID, *IDResponse, error) {
	d := &tls.Dialer{Config: &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}} // the key is what we report
	dctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", c.addr)
	if err != nil {
		return ID{}, nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, c.addr, err)
	}
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	conn.Close()
	if len(certs) == 0 {
		return ID{}, nil, fmt.Errorf("%w: %s sent no certificate", ErrUnreachable, c.addr)
	}
	got := certID(certs[0])
	if c.pin != nil && *c.pin != got {
		return got, nil, &PinError{Want: *c.pin, Got: got}
	}
	pinned, _ := NewClient(c.addr, WithPin(got), WithTimeout(c.timeout))
	var res IDResponse
	if err := pinned.do(ctx, http.MethodGet, "/v1/id", nil, &res); err != nil {
		return got, nil, err
	}
	if res.CASID != got.String() {
		return got, &res, fmt.Errorf("the CAS says its ID is %s, its TLS key has %s", res.CASID, got)
	}
	return got, &res, nil
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "https://"+c.addr+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var pe *PinError
		if errors.As(err, &pe) {
			return pe
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, c.addr, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("%w: reading the answer of %s: %v", ErrUnreachable, c.addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorResponse
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
		}
		return &APIError{Status: resp.StatusCode, Message: e.Error, Fix: e.Fix}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the CAS's answer to %s %s is not the JSON expected: %v", method, path, err)
	}
	return nil
}

// Nonce asks for a fresh owner nonce (hex).
func (c *Client) Nonce(ctx context.Context) (string, error) {
	var res NonceResponse
	if err := c.do(ctx, http.MethodPost, "/v1/nonce", nil, &res); err != nil {
		return "", err
	}
	return res.Nonce, nil
}

// Apply sends a policy document signed with key (PurposeApply).
func (c *Client) Apply(ctx context.Context, name string, doc []byte, key crypto.Signer) (*ApplyResponse, error) {
	sig, err := policy.Sign(key, policy.PurposeApply, doc, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOwnerKey, err)
	}
	var res ApplyResponse
	if err := c.do(ctx, http.MethodPut, "/v1/policies/"+url.PathEscape(name), ApplyRequest{Policy: doc, Signature: sig}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Read returns the current version of policy name.
func (c *Client) Read(ctx context.Context, name string, key crypto.Signer) (*ReadResponse, error) {
	nonce, err := c.Nonce(ctx)
	if err != nil {
		return nil, err
	}
	sig, err := policy.Sign(key, policy.PurposeRead, ReadData(name, nonce), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOwnerKey, err)
	}
	var res ReadResponse
	if err := c.do(ctx, http.MethodPost, "/v1/policies/"+url.PathEscape(name)+"/read", ReadRequest{Nonce: nonce, Signature: sig}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Export returns the secrets of version hash of policy name that the
// policy marks export.
func (c *Client) Export(ctx context.Context, name, hash string, key crypto.Signer) (*ExportResponse, error) {
	nonce, err := c.Nonce(ctx)
	if err != nil {
		return nil, err
	}
	sig, err := policy.Sign(key, policy.PurposeExport, ExportData(name, hash, nonce), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOwnerKey, err)
	}
	var res ExportResponse
	if err := c.do(ctx, http.MethodPost, "/v1/policies/"+url.PathEscape(name)+"/export", ExportRequest{Hash: hash, Nonce: nonce, Signature: sig}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// List returns the policies key owns.
func (c *Client) List(ctx context.Context, key crypto.Signer) (*ListResponse, error) {
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOwnerKey, err)
	}
	oid, _ := OwnerID(key.Public())
	nonce, err := c.Nonce(ctx)
	if err != nil {
		return nil, err
	}
	sig, err := policy.Sign(key, policy.PurposeList, ListData(oid, nonce), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOwnerKey, err)
	}
	var res ListResponse
	req := ListRequest{Owner: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), Nonce: nonce, Signature: sig}
	if err := c.do(ctx, http.MethodPost, "/v1/policies/list", req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Delete deletes version hash of policy name.
func (c *Client) Delete(ctx context.Context, name, hash string, key crypto.Signer) error {
	sig, err := policy.Sign(key, policy.PurposeDelete, DeleteData(name, hash), nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrOwnerKey, err)
	}
	var res DeleteResponse
	return c.do(ctx, http.MethodDelete, "/v1/policies/"+url.PathEscape(name), DeleteRequest{Hash: hash, Signature: sig}, &res)
}

// ParseOwnerKey reads an owner's private key: PEM "PRIVATE KEY" (PKCS #8)
// of an Ed25519 or ECDSA P-256 key, or "EC PRIVATE KEY" (P-256).
func ParseOwnerKey(b []byte) (crypto.Signer, error) {
	k, err := pemPrivateKey(b, " (want a PRIVATE KEY: Ed25519 or ECDSA P-256)", " (a public key cannot sign)")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOwnerKey, err)
	}
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P256() {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: a %T, want Ed25519 or ECDSA P-256", ErrOwnerKey, k)
}
