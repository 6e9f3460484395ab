package cas

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/scone-build/scone-build/pkg/casproto"
)

const (
	bucketSessions = "sessions" // hex(session ID) -> storedSession
	bucketVolumes  = "volumes"  // name + path -> u64 V little-endian || R_V
)

// storedSession is an attested session that may read and record volume
// state: the policy version it was attested for and its record key.
type storedSession struct {
	Policy string `json:"policy"`
	Hash   string `json:"hash"`
	Key    []byte `json:"key"`
	// Used: when the session last read or recorded volume state (Unix
	// seconds; noted at most once an hour). 0 in a session stored before
	// this field: the next sweep starts its clock.
	Used int64 `json:"used,omitempty"`
}

// usedEvery: a session's use is written back at most this often.
const usedEvery = time.Hour

// VolumeState is a volume's recorded state: version V and root tag R_V.
type VolumeState struct {
	Version uint64
	Root    [32]byte
}

// ErrRollback: a volume state older than the recorded one (lower V, or
// equal V with another root).
var ErrRollback = errors.New("volume state older than recorded: rollback")

func volumeKey(name, path string) string { return name + path } // paths begin with /

func (s *Server) openSession(ctx context.Context, req *casproto.AttestRequest, v *version, key []byte) error {
	if len(v.p.Volumes) == 0 {
		return nil // nothing to record
	}
	id := casproto.SessionID(req.SessionKey)
	return s.store.Update(ctx, func(tx Tx) error {
		return putJSON(tx, bucketSessions, hex.EncodeToString(id[:]), storedSession{Policy: v.p.Name, Hash: hexHash(v.hash), Key: key, Used: s.now().Unix()})
	})
}

func (s *Server) handleVolume(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, casproto.MaxMessageSize))
	if err != nil {
		textError(w, http.StatusBadRequest, "reading the volume request: "+err.Error())
		return
	}
	req, err := casproto.ParseVolumeRequest(body)
	if err != nil {
		textError(w, http.StatusBadRequest, err.Error())
		return
	}
	resp := s.Volume(r.Context(), req, r.RemoteAddr)
	b, err := resp.MarshalBinary()
	if err != nil {
		s.log.Error("encoding volume response", "err", err)
		textError(w, http.StatusInternalServerError, "the CAS could not encode its answer")
		return
	}
	writeBinary(w, b)
}

// Volume answers a volume request (the enclave protocol's volume request
// without HTTP): for a session the CAS attested, whose MAC verifies, for a
// volume its policy lists, it returns the recorded state (VolumeGet) or
// records a newer one (VolumeRecord). A record below the recorded state,
// or at the same version with another root, is refused with
// VolumeRollback and audited. Unauthenticated requests get an unsigned
// VolumeRefused.
func (s *Server) Volume(ctx context.Context, req *casproto.VolumeRequest, remote string) *casproto.VolumeResponse {
	ev := &AuditEvent{Event: "volume", Volume: req.Path, Remote: remote}
	resp := &casproto.VolumeResponse{}
	var key []byte
	answer := func(st casproto.VolumeStatus, reason string) *casproto.VolumeResponse {
		resp.Status, resp.Reason = st, truncate(reason, casproto.MaxReasonSize)
		if key != nil {
			resp.Sign(key, req.MAC)
		}
		// audited: what is not an accepted request (a record per fsync
		// would flood the log; the recorded state is in the store)
		if st != casproto.VolumeOK {
			ev.Outcome = map[casproto.VolumeStatus]string{casproto.VolumeRollback: "rollback",
				casproto.VolumeRefused: "refused", casproto.VolumeRetry: "retry"}[st]
			ev.Reason = resp.Reason
			s.emit(ev)
		}
		return resp
	}
	var sess storedSession
	err := s.store.View(ctx, func(tx Tx) error {
		return getJSON(tx, bucketSessions, hex.EncodeToString(req.Session[:]), &sess)
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return answer(casproto.VolumeRefused, "unknown session: attest first (only sessions of policies with volumes may record)")
	case err != nil:
		s.log.Error("reading a session", "err", err)
		return answer(casproto.VolumeRetry, "the CAS store is unavailable: try again later")
	}
	ev.Policy, ev.Hash = sess.Policy, sess.Hash
	if req.Verify(sess.Key) != nil {
		return answer(casproto.VolumeRefused, "the request's MAC does not verify under the session's record key")
	}
	key = sess.Key
	var cur VolumeState
	var prev uint64
	var known, rollback, denied bool
	now := s.now().Unix()
	err = s.store.Update(ctx, func(tx Tx) error {
		known, rollback, denied, cur = false, false, false, VolumeState{}
		if now-sess.Used >= int64(usedEvery/time.Second) {
			used := sess
			used.Used = now
			if err := putJSON(tx, bucketSessions, hex.EncodeToString(req.Session[:]), used); err != nil {
				return err
			}
		}
		c, err := current(tx, sess.Policy)
		if err != nil {
			return err
		}
		if c == nil {
			return fmt.Errorf("policy %q: %w", sess.Policy, ErrNotFound)
		}
		v, err := s.loadVersion(tx, sess.Policy, c.Hash)
		if err != nil {
			return err
		}
		pv, ok := v.p.Volumes[req.Path]
		if !ok {
			return fmt.Errorf("volume %q: %w", req.Path, ErrNotFound)
		}
		b, err := tx.Get(bucketVolumes, volumeKey(sess.Policy, req.Path))
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case len(b) != 8+32:
			return fmt.Errorf("%w: volume state of %s %s", ErrCorrupt, sess.Policy, req.Path)
		default:
			known = true
			cur.Version = binary.LittleEndian.Uint64(b)
			copy(cur.Root[:], b[8:])
		}
		prev = cur.Version
		switch req.Op {
		case casproto.VolumeGet:
			return nil
		case casproto.VolumeReinit:
			// an emptied volume starts anew: its state may go back, and
			// only where the policy says so
			if !pv.AllowReinit {
				denied = true
				return nil
			}
			cur = VolumeState{Version: req.Version, Root: req.Root}
			return tx.Put(bucketVolumes, volumeKey(sess.Policy, req.Path), append(binary.LittleEndian.AppendUint64(nil, req.Version), req.Root[:]...))
		}
		if known && (req.Version < cur.Version || req.Version == cur.Version && !bytes.Equal(req.Root[:], cur.Root[:])) {
			rollback = true
			return nil
		}
		if known && req.Version == cur.Version {
			return nil // the same state again
		}
		cur = VolumeState{Version: req.Version, Root: req.Root}
		return tx.Put(bucketVolumes, volumeKey(sess.Policy, req.Path), append(binary.LittleEndian.AppendUint64(nil, req.Version), req.Root[:]...))
	})
	resp.Version, resp.Root = cur.Version, cur.Root
	switch {
	case errors.Is(err, ErrNotFound):
		return answer(casproto.VolumeRefused, fmt.Sprintf("policy %q lists no volume %q (or was deleted)", sess.Policy, req.Path))
	case err != nil:
		s.log.Error("volume state", "policy", sess.Policy, "volume", req.Path, "err", err)
		return answer(casproto.VolumeRetry, "the CAS store is unavailable: try again later")
	case denied:
		return answer(casproto.VolumeRefused, fmt.Sprintf("policy %q does not allow volume %s to start anew (its recorded version is %d): set allow_reinit in its volumes entry, or put the volume's current state back", sess.Policy, req.Path, cur.Version))
	case req.Op == casproto.VolumeReinit:
		// accepted, but audited: the recorded state went back on purpose
		ev.Outcome, ev.Reason = "reinit", fmt.Sprintf("recorded version %d replaced by %d", prev, req.Version)
		s.emit(ev)
	case rollback:
		return answer(casproto.VolumeRollback, fmt.Sprintf("volume %s of policy %q: version %d with root %x is older than the recorded version %d with root %x: rollback or fork",
			req.Path, sess.Policy, req.Version, req.Root[:8], cur.Version, cur.Root[:8]))
	}
	return answer(casproto.VolumeOK, "")
}

// SweepSessions forgets the attested sessions that read or recorded no
// volume state for the session TTL (WithSessionTTL); an enclave whose
// session went is refused ("unknown session") and must start again to
// attest anew. It returns how many it removed.
func (s *Server) SweepSessions(ctx context.Context) (int, error) {
	now := s.now().Unix()
	ttl := int64(s.sessionTTL / time.Second)
	var gone int
	err := s.store.Update(ctx, func(tx Tx) error {
		gone = 0
		keys, err := tx.Keys(bucketSessions, "")
		if err != nil {
			return err
		}
		for _, k := range keys {
			var sess storedSession
			if err := getJSON(tx, bucketSessions, k, &sess); err != nil {
				return err
			}
			switch {
			case sess.Used == 0: // stored before the field: its clock starts now
				sess.Used = now
				if err := putJSON(tx, bucketSessions, k, sess); err != nil {
					return err
				}
			case now-sess.Used > ttl:
				if err := tx.Delete(bucketSessions, k); err != nil {
					return err
				}
				gone++
			}
		}
		return nil
	})
	if err == nil && gone > 0 {
		s.log.Info("forgot attested sessions unused for the session TTL", "sessions", gone, "ttl", s.sessionTTL)
	}
	return gone, err
}

// sweepLoop sweeps the sessions at start and then every hour (or TTL/24,
// if shorter, for short TTLs) until ctx ends.
func (s *Server) sweepLoop(ctx context.Context) {
	every := min(time.Hour, max(time.Minute, s.sessionTTL/24))
	for {
		if _, err := s.SweepSessions(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweeping attested sessions", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
