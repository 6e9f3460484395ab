package cas

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/casproto"
	"github.com/scone-build/scone-build/pkg/policy"
)

func (s *Server) handleChallenge(w http.ResponseWriter, r *http.Request) {
	if n, _ := io.ReadFull(http.MaxBytesReader(w, r.Body, 1), make([]byte, 1)); n > 0 {
		textError(w, http.StatusBadRequest, "a challenge request has an empty body")
		return
	}
	n, err := s.nonces.issue(nonceEnclave)
	if errors.Is(err, ErrBusy) {
		textError(w, http.StatusTooManyRequests, "too many outstanding challenges: try again later")
		return
	}
	if err != nil {
		s.log.Error("making a challenge nonce", "err", err)
		textError(w, http.StatusInternalServerError, "cannot make a nonce")
		return
	}
	writeBinary(w, n[:])
}

func (s *Server) handleAttest(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, casproto.MaxMessageSize))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			textError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("an attest request has at most %d bytes", casproto.MaxMessageSize))
			return
		}
		textError(w, http.StatusBadRequest, "reading the attest request: "+err.Error())
		return
	}
	req, err := casproto.ParseAttestRequest(body)
	if err != nil {
		textError(w, http.StatusBadRequest, err.Error())
		return
	}
	resp := s.Attest(r.Context(), req, r.RemoteAddr)
	b, err := resp.MarshalBinary()
	if err != nil { // cannot happen (reasons are cut to fit): answer anyway
		s.log.Error("encoding attest response", "err", err)
		resp = &casproto.AttestResponse{Status: casproto.StatusRefused, Reason: "the CAS could not encode its answer", Simulation: resp.Simulation}
		b, _ = resp.MarshalBinary()
	}
	writeBinary(w, b)
}

// Attest runs an attestation (the enclave protocol's attest request
// without HTTP): the nonce, the quote, REPORTDATA, the policy, the
// activation count; it returns a released response with the sealed
// secrets, or why not. remote is logged in the audit line.
func (s *Server) Attest(ctx context.Context, req *casproto.AttestRequest, remote string) *casproto.AttestResponse {
	ev := &AuditEvent{Event: "attest", Policy: req.Policy, Client: req.Client, Remote: remote}
	resp := &casproto.AttestResponse{}
	answer := func(st casproto.Status, reason string) *casproto.AttestResponse {
		resp.Status = st
		resp.Reason = truncate(reason, casproto.MaxReasonSize)
		ev.Outcome = map[casproto.Status]string{casproto.StatusRefused: "refused", casproto.StatusRetry: "retry"}[st]
		ev.Reason = resp.Reason
		s.emit(ev)
		return resp
	}
	q, qerr := attest.ParseQuote(req.Quote)
	if qerr == nil {
		resp.Simulation = q.IsSimulation()
		ev.Simulation = resp.Simulation
	}
	if err := s.nonces.take(nonceEnclave, req.Nonce); err != nil {
		return answer(casproto.StatusRefused, "the nonce is unknown, expired or used: ask for a new challenge ("+casproto.PathChallenge+") for every attestation")
	}
	if qerr != nil {
		return answer(casproto.StatusRefused, "the quote is not one: "+qerr.Error())
	}
	res, err := s.verify(q)
	if err != nil {
		return answer(casproto.StatusRefused, "the quote does not verify: "+err.Error())
	}
	e := res.Enclave
	ev.MRENCLAVE, ev.MRSIGNER = fmt.Sprintf("%x", e.MRENCLAVE), fmt.Sprintf("%x", e.MRSIGNER)
	ev.ISVProdID, ev.ISVSVN, ev.TCBStatus = &e.ISVProdID, &e.ISVSVN, string(res.TCBStatus)
	if e.ReportData != casproto.ReportData(req.Nonce, req.SessionKey) {
		return answer(casproto.StatusRefused, `the quote's REPORTDATA does not bind this nonce and session key: want SHA-256("scone-cas attest v1" || 0x00 || nonce || session key) || 32 zero bytes`)
	}
	var v *version
	err = s.store.View(ctx, func(tx Tx) error {
		cur, err := current(tx, req.Policy)
		if err != nil || cur == nil {
			v = nil
			return err
		}
		v, err = s.loadVersion(tx, req.Policy, cur.Hash)
		return err
	})
	if err != nil {
		return s.storeTrouble(answer, req.Policy, err)
	}
	if v == nil {
		return answer(casproto.StatusRefused, fmt.Sprintf("there is no policy %q in this CAS", req.Policy))
	}
	ev.Hash = hexHash(v.hash)
	evidence := policy.Evidence{MRENCLAVE: e.MRENCLAVE, MRSIGNER: e.MRSIGNER, ISVProdID: e.ISVProdID, ISVSVN: e.ISVSVN,
		Debug: e.Attributes.Debug(), Simulation: res.Simulation, TCBStatus: string(res.TCBStatus)}
	if err := v.p.Match(evidence); err != nil {
		return answer(casproto.StatusRefused, err.Error())
	}
	plain, err := s.rendered(ctx, v)
	if err != nil {
		if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrCorrupt) {
			return s.storeTrouble(answer, req.Policy, err)
		}
		return answer(casproto.StatusRefused, fmt.Sprintf("policy %q: %v", req.Policy, err))
	}
	n, err := s.activate(ctx, v)
	switch {
	case errors.Is(err, ErrActivations):
		return answer(casproto.StatusRefused, fmt.Sprintf("policy %q allows %d activations and all are used (accept.max_activations)", req.Policy, v.p.Accept.MaxActivations))
	case errors.Is(err, errChanged):
		return answer(casproto.StatusRetry, fmt.Sprintf("policy %q changed during the attestation: try again", req.Policy))
	case err != nil:
		return s.storeTrouble(answer, req.Policy, err)
	}
	sealed, eph, recKey, err := seal(req, v.hash, plain)
	if err != nil {
		s.log.Error("sealing secrets", "policy", req.Policy, "err", err)
		return answer(casproto.StatusRetry, "the CAS could not seal the secrets: try again")
	}
	if err := s.openSession(ctx, req, v, recKey); err != nil {
		return s.storeTrouble(answer, req.Policy, err)
	}
	resp.Status, resp.PolicyHash, resp.Ephemeral, resp.Sealed = casproto.StatusReleased, v.hash, eph, sealed
	ev.Outcome, ev.Activation = "released", n
	s.emit(ev)
	return resp
}

func (s *Server) storeTrouble(answer func(casproto.Status, string) *casproto.AttestResponse, name string, err error) *casproto.AttestResponse {
	if errors.Is(err, ErrCorrupt) {
		s.log.Error("the CAS store is damaged", "policy", name, "err", err)
		return answer(casproto.StatusRefused, fmt.Sprintf("the CAS cannot read policy %q: its store is damaged; tell the CAS operator", name))
	}
	s.log.Error("CAS store unavailable", "policy", name, "err", err)
	return answer(casproto.StatusRetry, "the CAS store is unavailable: try again later")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) { // do not cut a UTF-8 sequence
		s = s[:len(s)-1]
	}
	return s
}

// seal encrypts the secrets message to the request's session key with a
// fresh ephemeral key (used once: the GCM nonce is zero).
// It also returns the session's record key (casproto.RecordKey).
func seal(req *casproto.AttestRequest, hash [32]byte, plain []byte) ([]byte, [casproto.PointSize]byte, []byte, error) {
	var eph [casproto.PointSize]byte
	p, err := req.SessionPublicKey()
	if err != nil {
		return nil, eph, nil, err
	}
	e, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, eph, nil, err
	}
	sealed, err := casproto.Seal(e, p, req.Nonce, hash, plain)
	if err != nil {
		return nil, eph, nil, err
	}
	rk, err := casproto.RecordKey(e, p, req.Nonce)
	if err != nil {
		return nil, eph, nil, err
	}
	copy(eph[:], e.PublicKey().Bytes())
	return sealed, eph, rk, nil
}

// verifyQuote verifies a simulation quote with the configured simulation
// key that signed it, a hardware quote with the configured collateral.
func (s *Server) verifyQuote(q *attest.Quote) (*attest.Result, error) {
	if q.IsSimulation() {
		if len(s.simKeys) == 0 {
			return nil, errors.New("a simulation quote, and this CAS accepts none (it was started without a simulation key)")
		}
		k, ok := s.simKeys[q.AttestationKey]
		if !ok {
			id := "an invalid key"
			if pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, q.AttestationKey[:]...)); err == nil {
				kid, _ := KeyID(pk)
				id = "the key with ID " + kid.String()
			}
			return nil, fmt.Errorf("the simulation quote is signed by %s, not by a simulation key this CAS accepts (GET /v1/id lists them)", id)
		}
		return attest.VerifySimulation(q, k, attest.WithTime(s.now()))
	}
	if len(s.colls) == 0 {
		return nil, errors.New("a hardware quote, and this CAS has no collateral to verify it (start it with --collateral)")
	}
	var err error
	for i, c := range s.colls {
		var res *attest.Result
		res, err = s.verifier.Verify(q, c)
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, attest.ErrTCB) || i == len(s.colls)-1 {
			break
		}
	}
	return nil, err
}

// activate counts an activation of v, atomically against
// max_activations; it fails with errChanged when v is no longer current.
func (s *Server) activate(ctx context.Context, v *version) (uint64, error) {
	name, hash := v.p.Name, hexHash(v.hash)
	max := v.p.Accept.MaxActivations
	var n uint64
	err := s.store.Update(ctx, func(tx Tx) error {
		cur, err := current(tx, name)
		if err != nil {
			return err
		}
		if cur == nil || cur.Hash != hash {
			return errChanged
		}
		if n, err = activations(tx, name, hash); err != nil {
			return err
		}
		if max > 0 && n >= max {
			return ErrActivations
		}
		n++
		return tx.Put(bucketActivations, versionKey(name, hash), binary.LittleEndian.AppendUint64(nil, n))
	})
	return n, err
}

func (s *Server) emit(ev *AuditEvent) {
	ev.Time = s.now().UTC()
	s.audit.write(ev)
}
