package cas

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/scone-build/scone-build/pkg/policy"
)

// The owner API's JSON bodies (docs/cas.md, "Owner API"). Byte strings
// are standard base64, hashes and nonces lowercase hex.

// IDResponse answers GET /v1/id.
type IDResponse struct {
	CASID          string   `json:"cas_id"`
	Version        string   `json:"version"`
	SimulationKeys []string `json:"simulation_keys"`
	MRENCLAVE      string   `json:"mrenclave,omitempty"`
	// Quote is a quote of the CAS's enclave whose REPORTDATA binds the
	// CAS ID (IDReportData), when the CAS runs in one: VerifySelfQuote.
	// MRENCLAVE is the server's word until the quote is verified.
	Quote []byte `json:"quote,omitempty"`
	// Recovering is the CAS ID of the state a CAS in recovery mode
	// collects shares for (docs/cas.md, "Recovery"); CASID is then its
	// recovery key's, which the quote binds (RecoveryReportData).
	Recovering string `json:"recovering,omitempty"`
}

// NonceResponse answers POST /v1/nonce.
type NonceResponse struct {
	Nonce string `json:"nonce"`
}

// ApplyRequest is the body of PUT /v1/policies/NAME.
type ApplyRequest struct {
	Policy    []byte `json:"policy"`
	Signature []byte `json:"signature"`
}

// ApplyResponse answers it.
type ApplyResponse struct {
	Name string `json:"name"`
	Hash string `json:"hash"`
}

// ReadRequest is the body of POST /v1/policies/NAME/read.
type ReadRequest struct {
	Nonce     string `json:"nonce"`
	Signature []byte `json:"signature"`
}

// ReadResponse answers it.
type ReadResponse struct {
	Policy      []byte `json:"policy"`
	Hash        string `json:"hash"`
	Activations uint64 `json:"activations"`
}

// ExportRequest is the body of POST /v1/policies/NAME/export.
type ExportRequest struct {
	Hash      string `json:"hash"`
	Nonce     string `json:"nonce"`
	Signature []byte `json:"signature"`
}

// ExportResponse answers it: the secrets marked export, by name.
type ExportResponse struct {
	Secrets map[string][]byte `json:"secrets"`
}

// ListRequest is the body of POST /v1/policies/list.
type ListRequest struct {
	Owner     string `json:"owner"` // PEM
	Nonce     string `json:"nonce"`
	Signature []byte `json:"signature"`
}

// ListResponse answers it: the owner's policies, by name.
type ListResponse struct {
	Policies []PolicyInfo `json:"policies"`
}

// PolicyInfo is one policy of a list.
type PolicyInfo struct {
	Name        string `json:"name"`
	Hash        string `json:"hash"`
	Activations uint64 `json:"activations"`
}

// DeleteRequest is the body of DELETE /v1/policies/NAME.
type DeleteRequest struct {
	Hash      string `json:"hash"`
	Signature []byte `json:"signature"`
}

// DeleteResponse answers it.
type DeleteResponse struct {
	Name string `json:"name"`
}

// ErrorResponse is the body of every owner API error.
type ErrorResponse struct {
	Error string `json:"error"`
	Fix   string `json:"fix,omitempty"`
}

// ErrRequest: a malformed owner API request.
var ErrRequest = errors.New("malformed request")

// Signed data of the owner API's purposes (docs/cas.md).

// ReadData is what an owner signs to read policy name (PurposeRead).
func ReadData(name, nonce string) []byte { return []byte(name + "\n" + nonce) }

// ExportData is what an owner signs to export (PurposeExport).
func ExportData(name, hash, nonce string) []byte { return []byte(name + "\n" + hash + "\n" + nonce) }

// DeleteData is what an owner signs to delete (PurposeDelete).
func DeleteData(name, hash string) []byte { return []byte(name + "\n" + hash) }

// ListData is what an owner signs to list its policies (PurposeList).
func ListData(owner ID, nonce string) []byte { return []byte(owner.String() + "\n" + nonce) }

// OwnerID is the key ID of an owner key.
func OwnerID(pub any) (ID, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ID{}, fmt.Errorf("owner key: %w", err)
	}
	return sha256.Sum256(der), nil
}

const (
	maxApplyBody = 2 << 20
	maxOwnerBody = 64 << 10
)

func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return fmt.Errorf("%w: the body has more than %d bytes", ErrRequest, limit)
		}
		return fmt.Errorf("%w: %v", ErrRequest, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: more than one JSON value", ErrRequest)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: trailing data after the JSON value", ErrRequest)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(b)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

// ownerError maps an error to a status, a message and a fix.
func (s *Server) ownerError(w http.ResponseWriter, name string, err error) {
	status, fix := http.StatusInternalServerError, ""
	switch {
	case errors.Is(err, ErrRequest):
		status, fix = http.StatusBadRequest, "send the JSON body docs/cas.md describes (scone-build cas does)"
	case errors.Is(err, policy.ErrInvalid):
		status, fix = http.StatusBadRequest, "fix the policy (docs/cas.md lists every field)"
	case errors.Is(err, policy.ErrSignature):
		status, fix = http.StatusForbidden, "sign with the policy's owner key (a replacement: the current version's owner key)"
	case errors.Is(err, ErrNonce):
		status, fix = http.StatusForbidden, "get a fresh nonce (POST /v1/nonce) for each request: it is valid once, for 60 s"
	case errors.Is(err, ErrNotFound):
		status, fix = http.StatusNotFound, "check the name (scone-build cas policy list shows your policies)"
	case errors.Is(err, ErrConflict):
		status, fix = http.StatusConflict, "read the current version (scone-build cas policy get) and name its hash in previous"
	case errors.Is(err, ErrBusy):
		status, fix = http.StatusTooManyRequests, "try again later"
	case errors.Is(err, ErrUnavailable):
		status, fix = http.StatusServiceUnavailable, "try again later; the CAS operator checks the store"
	case errors.Is(err, ErrCorrupt):
		fix = "the CAS store is damaged or opened with another store key: tell the CAS operator"
	}
	if status >= 500 {
		s.log.Error("owner request failed", "policy", name, "err", err)
	}
	writeJSON(w, status, ErrorResponse{Error: err.Error(), Fix: fix})
}

func (s *Server) handleID(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, IDResponse{CASID: s.id.String(), Version: s.version, SimulationKeys: append([]string{}, s.simIDs...),
		MRENCLAVE: s.mrenclave, Quote: s.selfQuote})
}

func (s *Server) handleNonce(w http.ResponseWriter, r *http.Request) {
	if n, _ := io.ReadFull(http.MaxBytesReader(w, r.Body, 64), make([]byte, 64)); n > 2 { // "" or "{}"
		s.ownerError(w, "", fmt.Errorf("%w: a nonce request has an empty body", ErrRequest))
		return
	}
	n, err := s.nonces.issue(nonceOwner)
	if err != nil {
		s.ownerError(w, "", err)
		return
	}
	writeJSON(w, http.StatusOK, NonceResponse{Nonce: hex.EncodeToString(n[:])})
}

// takeNonce accepts an owner nonce given in hex.
func (s *Server) takeNonce(h string) error {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 || strings.ToLower(h) != h {
		return fmt.Errorf("%w: nonce %q is not 64 lowercase hex digits", ErrRequest, h)
	}
	if err := s.nonces.take(nonceOwner, [32]byte(b)); err != nil {
		return fmt.Errorf("%w: get a new one", err)
	}
	return nil
}

func (s *Server) ownerAudit(r *http.Request, event, name, hash string, owner any, err error) *AuditEvent {
	ev := &AuditEvent{Event: event, Policy: name, Hash: hash, Outcome: "ok", Remote: r.RemoteAddr}
	if owner != nil {
		if id, e := OwnerID(owner); e == nil {
			ev.Owner = id.String()
		}
	}
	if err != nil {
		ev.Outcome = "failed"
		if errors.Is(err, policy.ErrSignature) || errors.Is(err, ErrNonce) {
			ev.Outcome = "denied"
		}
		ev.Reason = err.Error()
	}
	return ev
}

func (s *Server) handleApply(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req ApplyRequest
	err := decodeJSON(w, r, maxApplyBody, &req)
	var res *ApplyResponse
	var owner any
	if err == nil {
		res, owner, err = s.Apply(r.Context(), name, req.Policy, req.Signature)
	}
	hash := ""
	if res != nil {
		hash = res.Hash
	}
	s.emit(s.ownerAudit(r, "apply", name, hash, owner, err))
	if err != nil {
		s.ownerError(w, name, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// Apply creates or replaces policy name with doc, signed (PurposeApply)
// by the owner: of doc for a new policy, of the current version for a
// replacement, whose hash doc names in previous. It returns the new
// version's hash and the key that signed.
func (s *Server) Apply(ctx context.Context, name string, doc, sig []byte) (*ApplyResponse, any, error) {
	p, err := policy.Parse(doc)
	if err != nil {
		return nil, nil, err
	}
	if p.Name != name {
		return nil, nil, fmt.Errorf("%w: the document names policy %q, the request %q", ErrRequest, p.Name, name)
	}
	hash := hexHash(p.Hash())
	var cur *currentRecord
	var signer any
	var old map[string]storedSecret
	var ca *storedCA
	err = s.store.View(ctx, func(tx Tx) error {
		var err error
		if cur, err = current(tx, name); err != nil {
			return err
		}
		signer = p.OwnerKey()
		if cur != nil {
			v, err := s.loadVersion(tx, name, cur.Hash)
			if err != nil {
				return err
			}
			signer = v.p.OwnerKey()
		}
		if err := policy.VerifySignature(signer, policy.PurposeApply, doc, sig); err != nil {
			if cur != nil {
				return fmt.Errorf("%w: a new version of %q must be signed by the current version's owner", err, name)
			}
			return fmt.Errorf("%w: a new policy must be signed by the owner it names", err)
		}
		if err := checkPrevious(tx, name, hash, p.Previous, cur); err != nil {
			return err
		}
		old, ca, err = generated(tx, name)
		return err
	})
	if err != nil {
		return nil, signer, err
	}
	gen, ca2, err := generate(p, old, ca, s.now())
	if err != nil {
		return nil, signer, err
	}
	ownerID, err := OwnerID(p.OwnerKey())
	if err != nil {
		return nil, signer, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		now, err := current(tx, name)
		if err != nil {
			return err
		}
		if (now == nil) != (cur == nil) || now != nil && now.Hash != cur.Hash {
			return fmt.Errorf("%w: policy %q changed while this version was being applied: read it again", ErrConflict, name)
		}
		if err := checkPrevious(tx, name, hash, p.Previous, now); err != nil {
			return err
		}
		if err := tx.Put(bucketVersions, versionKey(name, hash), doc); err != nil {
			return err
		}
		if err := putJSON(tx, bucketCurrent, name, currentRecord{Hash: hash, Owner: ownerID.String()}); err != nil {
			return err
		}
		hist, err := history(tx, name)
		if err != nil {
			return err
		}
		if err := putJSON(tx, bucketHistory, name, append(hist, hash)); err != nil {
			return err
		}
		if err := putJSON(tx, bucketSecrets, name, gen); err != nil {
			return err
		}
		if ca2 != nil {
			return putJSON(tx, bucketCA, name, ca2)
		}
		return nil
	})
	if err != nil {
		return nil, signer, err
	}
	s.versions.drop(name)
	return &ApplyResponse{Name: name, Hash: hash}, signer, nil
}

// checkPrevious refuses a version whose previous is not the current
// version, and a version applied before (a replay).
func checkPrevious(tx Tx, name, hash, previous string, cur *currentRecord) error {
	hist, err := history(tx, name)
	if err != nil {
		return err
	}
	if slices.Contains(hist, hash) {
		return fmt.Errorf("%w: version %s of policy %q was applied before: an old version cannot be applied again (make a new one naming the current version in previous)", ErrConflict, hash, name)
	}
	prev := strings.ToLower(previous)
	switch {
	case cur == nil && prev != "":
		return fmt.Errorf("%w: the policy names previous %s, but there is no policy %q (a new policy has no previous)", ErrConflict, prev, name)
	case cur != nil && prev == "":
		return fmt.Errorf("%w: policy %q exists (version %s): a replacement names it in previous", ErrConflict, name, cur.Hash)
	case cur != nil && prev != cur.Hash:
		return fmt.Errorf("%w: the policy names previous %s, the current version of %q is %s", ErrConflict, prev, name, cur.Hash)
	}
	return nil
}

// owned loads the current version of name for an owner request.
func (s *Server) owned(ctx context.Context, name string, fn func(tx Tx, v *version) error) error {
	return s.store.View(ctx, func(tx Tx) error {
		cur, err := current(tx, name)
		if err != nil {
			return err
		}
		if cur == nil {
			return fmt.Errorf("policy %q: %w", name, ErrNotFound)
		}
		v, err := s.loadVersion(tx, name, cur.Hash)
		if err != nil {
			return err
		}
		return fn(tx, v)
	})
}

func (s *Server) handleRead(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req ReadRequest
	var res ReadResponse
	var owner any
	err := decodeJSON(w, r, maxOwnerBody, &req)
	if err == nil {
		err = s.takeNonce(req.Nonce)
	}
	if err == nil {
		err = s.owned(r.Context(), name, func(tx Tx, v *version) error {
			owner = v.p.OwnerKey()
			if err := policy.VerifySignature(owner, policy.PurposeRead, ReadData(name, req.Nonce), req.Signature); err != nil {
				return err
			}
			doc, err := tx.Get(bucketVersions, versionKey(name, hexHash(v.hash)))
			if err != nil {
				return err
			}
			res.Policy, res.Hash = doc, hexHash(v.hash)
			res.Activations, err = activations(tx, name, res.Hash)
			return err
		})
	}
	s.emit(s.ownerAudit(r, "read", name, res.Hash, owner, err))
	if err != nil {
		s.ownerError(w, name, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req ExportRequest
	res := ExportResponse{Secrets: map[string][]byte{}}
	var owner any
	err := decodeJSON(w, r, maxOwnerBody, &req)
	if err == nil {
		err = s.takeNonce(req.Nonce)
	}
	if err == nil {
		err = s.owned(r.Context(), name, func(tx Tx, v *version) error {
			owner = v.p.OwnerKey()
			if err := policy.VerifySignature(owner, policy.PurposeExport, ExportData(name, req.Hash, req.Nonce), req.Signature); err != nil {
				return err
			}
			if req.Hash != hexHash(v.hash) {
				return fmt.Errorf("%w: the request names version %s, the current version of %q is %s", ErrConflict, req.Hash, name, hexHash(v.hash))
			}
			gen, ca, err := generated(tx, name)
			if err != nil {
				return err
			}
			res.Secrets, err = exportable(v.p, &materials{p: v.p, gen: gen, ca: ca})
			return err
		})
	}
	ev := s.ownerAudit(r, "export", name, req.Hash, owner, err)
	for n := range res.Secrets {
		ev.Secrets = append(ev.Secrets, n)
	}
	sort.Strings(ev.Secrets)
	s.emit(ev)
	if err != nil {
		s.ownerError(w, name, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	var req ListRequest
	res := ListResponse{Policies: []PolicyInfo{}}
	var owner any
	err := decodeJSON(w, r, maxOwnerBody, &req)
	if err == nil {
		if owner, err = policy.ParsePublicKey([]byte(req.Owner)); err != nil {
			owner, err = nil, fmt.Errorf("%w: owner: %v", ErrRequest, err)
		}
	}
	var oid ID
	if err == nil {
		oid, err = OwnerID(owner)
	}
	if err == nil {
		err = s.takeNonce(req.Nonce)
	}
	if err == nil {
		err = policy.VerifySignature(owner, policy.PurposeList, ListData(oid, req.Nonce), req.Signature)
	}
	if err == nil {
		err = s.store.View(r.Context(), func(tx Tx) error {
			res.Policies = res.Policies[:0]
			names, err := tx.Keys(bucketCurrent, "")
			if err != nil {
				return err
			}
			for _, n := range names {
				var c currentRecord
				if err := getJSON(tx, bucketCurrent, n, &c); err != nil {
					return err
				}
				if c.Owner != oid.String() {
					continue
				}
				a, err := activations(tx, n, c.Hash)
				if err != nil {
					return err
				}
				res.Policies = append(res.Policies, PolicyInfo{Name: n, Hash: c.Hash, Activations: a})
			}
			return nil
		})
	}
	s.emit(s.ownerAudit(r, "list", "", "", owner, err))
	if err != nil {
		s.ownerError(w, "", err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req DeleteRequest
	var owner any
	err := decodeJSON(w, r, maxOwnerBody, &req)
	if err == nil {
		err = s.owned(r.Context(), name, func(tx Tx, v *version) error {
			owner = v.p.OwnerKey()
			if err := policy.VerifySignature(owner, policy.PurposeDelete, DeleteData(name, req.Hash), req.Signature); err != nil {
				return err
			}
			if req.Hash != hexHash(v.hash) {
				return fmt.Errorf("%w: the request deletes version %s, the current version of %q is %s", ErrConflict, req.Hash, name, hexHash(v.hash))
			}
			return nil
		})
	}
	if err == nil {
		err = s.store.Update(r.Context(), func(tx Tx) error {
			cur, err := current(tx, name)
			if err != nil {
				return err
			}
			if cur == nil || cur.Hash != req.Hash {
				return fmt.Errorf("%w: policy %q changed while it was being deleted", ErrConflict, name)
			}
			if err := tx.Delete(bucketCurrent, name); err != nil {
				return err
			}
			// The history stays, so that no version is applied again.
			for _, b := range []string{bucketVersions, bucketActivations} {
				if err := tx.DeletePrefix(b, name+"/"); err != nil {
					return err
				}
			}
			if err := tx.Delete(bucketSecrets, name); err != nil {
				return err
			}
			return tx.Delete(bucketCA, name)
		})
	}
	s.versions.drop(name)
	s.emit(s.ownerAudit(r, "delete", name, req.Hash, owner, err))
	if err != nil {
		s.ownerError(w, name, err)
		return
	}
	writeJSON(w, http.StatusOK, DeleteResponse{Name: name})
}
