package cas

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scone-build/scone-build/pkg/casproto"
)

const volumePolicy = `accept:
  simulation: true
secrets:
  data_key: {kind: random, size: 32}
grants:
  volume_keys: {/data: data_key}
volumes:
  /data: {freshness: interval, interval_ms: 50}
`

// volSession is an attested session's view: its ID and record key, as
// the runtime derives them.
type volSession struct {
	id  [32]byte
	key []byte
}

func (tc *testCAS) volSession(t testing.TB, policyName string) volSession {
	t.Helper()
	req, session := tc.enclave().request(t, policyName, tc.challenge(t))
	resp := tc.send(t, req)
	if resp.Status != casproto.StatusReleased {
		t.Fatalf("attest %s: %v: %s", policyName, resp.Status, resp.Reason)
	}
	eph, err := resp.EphemeralKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := casproto.RecordKey(session, eph, req.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	return volSession{id: casproto.SessionID(req.SessionKey), key: k}
}

// volume sends a signed volume request over HTTP and checks the
// response's MAC when it is signed.
func (tc *testCAS) volume(t testing.TB, s volSession, op casproto.VolumeOp, path string, v uint64, root byte) *casproto.VolumeResponse {
	t.Helper()
	req := &casproto.VolumeRequest{Session: s.id, Path: path, Op: op, Version: v}
	if op != casproto.VolumeGet {
		req.Root[0] = root
	}
	req.Sign(s.key)
	b, err := req.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	st, body := tc.post(t, casproto.PathVolume, b)
	if st != 200 {
		t.Fatalf("volume: HTTP %d: %s", st, body)
	}
	resp, err := casproto.ParseVolumeResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != casproto.VolumeRefused {
		if err := resp.Verify(s.key, req.MAC); err != nil {
			t.Fatalf("response MAC: %v", err)
		}
	}
	return resp
}

// TestVolumeRecordMonotonic: on every store, a higher version is
// recorded, the same state again is fine, a lower version or the same
// version with another root is refused as a rollback and audited; a new
// session (the next start) reads the recorded state.
func TestVolumeRecordMonotonic(t *testing.T) {
	for _, c := range storeKinds {
		t.Run(c.name, func(t *testing.T) {
			tc := newTestCAS(t, WithStore(c.open(t)))
			owner := genEd25519(t)
			tc.apply(t, owner, policyDoc(t, owner, "db", "", volumePolicy))
			s := tc.volSession(t, "db")
			if r := tc.volume(t, s, casproto.VolumeGet, "/data", 0, 0); r.Status != casproto.VolumeOK || r.Version != 0 {
				t.Fatalf("get before any record: %v %d %s", r.Status, r.Version, r.Reason)
			}
			steps := []struct {
				name string
				v    uint64
				root byte
				want casproto.VolumeStatus
				recV uint64
			}{
				{"first", 3, 0xa3, casproto.VolumeOK, 3},
				{"higher", 9, 0xa9, casproto.VolumeOK, 9},
				{"same again", 9, 0xa9, casproto.VolumeOK, 9},
				{"lower", 7, 0xa7, casproto.VolumeRollback, 9},
				{"equal other root", 9, 0xff, casproto.VolumeRollback, 9},
				{"higher after refusals", 10, 0xaa, casproto.VolumeOK, 10},
			}
			for _, st := range steps {
				r := tc.volume(t, s, casproto.VolumeRecord, "/data", st.v, st.root)
				if r.Status != st.want || r.Version != st.recV {
					t.Errorf("%s: status %v version %d (%s), want %v %d", st.name, r.Status, r.Version, r.Reason, st.want, st.recV)
				}
				if st.want == casproto.VolumeRollback && !strings.Contains(r.Reason, "rollback") {
					t.Errorf("%s: reason %q", st.name, r.Reason)
				}
			}
			if n := strings.Count(tc.audit.String(), `"outcome":"rollback"`); n != 2 {
				t.Errorf("%d rollback audit events, want 2:\n%s", n, tc.audit)
			}
			next := tc.volSession(t, "db")
			r := tc.volume(t, next, casproto.VolumeGet, "/data", 0, 0)
			if r.Status != casproto.VolumeOK || r.Version != 10 || r.Root[0] != 0xaa {
				t.Errorf("next start reads %v %d %x", r.Status, r.Version, r.Root[:1])
			}
		})
	}
}

// TestVolumeIsolationAndAuth: state is per policy and volume; a request
// of an unknown session, with a wrong MAC, or for a volume the policy does
// not list is refused and changes nothing.
func TestVolumeIsolationAndAuth(t *testing.T) {
	tc := newTestCAS(t)
	owner := genEd25519(t)
	tc.apply(t, owner, policyDoc(t, owner, "db", "", volumePolicy))
	tc.apply(t, owner, policyDoc(t, owner, "other", "", volumePolicy))
	tc.apply(t, owner, policyDoc(t, owner, "novol", "", "accept:\n  simulation: true\n"))
	a, b := tc.volSession(t, "db"), tc.volSession(t, "other")
	if r := tc.volume(t, a, casproto.VolumeRecord, "/data", 5, 1); r.Status != casproto.VolumeOK {
		t.Fatalf("record: %v %s", r.Status, r.Reason)
	}
	if r := tc.volume(t, b, casproto.VolumeGet, "/data", 0, 0); r.Status != casproto.VolumeOK || r.Version != 0 {
		t.Errorf("another policy sees %v %d", r.Status, r.Version)
	}
	if r := tc.volume(t, b, casproto.VolumeRecord, "/data", 1, 2); r.Status != casproto.VolumeOK {
		t.Errorf("another policy records at its own version: %v %s", r.Status, r.Reason)
	}
	cases := []struct {
		name   string
		s      volSession
		path   string
		reason string
	}{
		{"unknown session", volSession{id: [32]byte{1}, key: a.key}, "/data", "unknown session"},
		{"wrong key", volSession{id: a.id, key: b.key}, "/data", "MAC"},
		{"session of another policy", volSession{id: b.id, key: a.key}, "/data", "MAC"},
		{"volume not in the policy", a, "/other", "lists no volume"},
		{"policy without volumes", tc.volSession(t, "novol"), "/data", "unknown session"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := tc.volume(t, c.s, casproto.VolumeRecord, c.path, 100, 9)
			if r.Status != casproto.VolumeRefused || !strings.Contains(r.Reason, c.reason) {
				t.Errorf("status %v %q, want refused with %q", r.Status, r.Reason, c.reason)
			}
		})
	}
	if r := tc.volume(t, a, casproto.VolumeGet, "/data", 0, 0); r.Version != 5 {
		t.Errorf("after refused requests the state is %d, want 5", r.Version)
	}
}

// TestVolumeReinit: an emptied volume may start anew (its state going
// back) only where the policy says allow_reinit, and that is audited; the
// released secrets tell the runtime which volumes are tracked and how.
func TestVolumeReinit(t *testing.T) {
	tc := newTestCAS(t)
	owner := genEd25519(t)
	tc.apply(t, owner, policyDoc(t, owner, "strict", "", volumePolicy))
	tc.apply(t, owner, policyDoc(t, owner, "lenient", "", strings.Replace(volumePolicy,
		"{freshness: interval, interval_ms: 50}", "{freshness: every-fsync, allow_reinit: true}", 1)))
	for _, c := range []struct {
		policy string
		want   casproto.VolumeStatus
		recV   uint64
	}{
		{"strict", casproto.VolumeRefused, 8},
		{"lenient", casproto.VolumeOK, 0},
	} {
		t.Run(c.policy, func(t *testing.T) {
			s := tc.volSession(t, c.policy)
			if r := tc.volume(t, s, casproto.VolumeRecord, "/data", 8, 8); r.Status != casproto.VolumeOK {
				t.Fatalf("record: %v %s", r.Status, r.Reason)
			}
			r := tc.volume(t, s, casproto.VolumeReinit, "/data", 0, 0)
			if r.Status != c.want {
				t.Errorf("reinit: %v (%s), want %v", r.Status, r.Reason, c.want)
			}
			if r := tc.volume(t, s, casproto.VolumeGet, "/data", 0, 0); r.Version != c.recV {
				t.Errorf("after reinit the recorded version is %d, want %d", r.Version, c.recV)
			}
		})
	}
	if !strings.Contains(tc.audit.String(), `"outcome":"reinit"`) || !strings.Contains(tc.audit.String(), "allow_reinit") {
		t.Errorf("audit has no reinit line and no refusal naming allow_reinit:\n%s", tc.audit)
	}
	// what the runtime learns at release
	for _, c := range []struct {
		policy string
		want   casproto.VolumeFreshness
	}{
		{"strict", casproto.VolumeFreshness{Path: "/data", Mode: casproto.FreshnessInterval, IntervalMS: 50}},
		{"lenient", casproto.VolumeFreshness{Path: "/data", Mode: casproto.FreshnessEveryFsync, AllowReinit: true}},
	} {
		_, sec := tc.attest(t, tc.enclave(), c.policy)
		if len(sec.Freshness) != 1 || sec.Freshness[0] != c.want {
			t.Errorf("%s: released freshness %+v, want [%+v]", c.policy, sec.Freshness, c.want)
		}
	}
}

// TestVolumeSessionTTL: a session that read or recorded no volume state for
// the session TTL is forgotten by the sweep (its enclave is refused as an
// unknown session); one in use is kept, its use noted at most hourly; a
// session stored before the use time existed gets its clock started.
func TestVolumeSessionTTL(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	tc := newTestCAS(t, WithClock(clock), WithSessionTTL(48*time.Hour))
	owner := genEd25519(t)
	tc.apply(t, owner, policyDoc(t, owner, "db", "", volumePolicy))
	idle, busy := tc.volSession(t, "db"), tc.volSession(t, "db")
	if r := tc.volume(t, idle, casproto.VolumeRecord, "/data", 1, 1); r.Status != casproto.VolumeOK {
		t.Fatalf("record: %v %s", r.Status, r.Reason)
	}
	// a session as an older CAS stored it: no use time
	old := volSession{id: [32]byte{7}, key: idle.key}
	if err := tc.srv.store.Update(context.Background(), func(tx Tx) error {
		return putJSON(tx, bucketSessions, hex.EncodeToString(old.id[:]), storedSession{Policy: "db", Key: idle.key})
	}); err != nil {
		t.Fatal(err)
	}
	advance(30 * time.Hour)
	if r := tc.volume(t, busy, casproto.VolumeRecord, "/data", 2, 2); r.Status != casproto.VolumeOK {
		t.Fatalf("record: %v %s", r.Status, r.Reason)
	}
	if n, err := tc.srv.SweepSessions(context.Background()); err != nil || n != 0 {
		t.Fatalf("sweep after 30 h: %d, %v", n, err)
	}
	advance(30 * time.Hour) // idle: 60 h unused; busy: 30 h; old: 30 h since the first sweep
	if n, err := tc.srv.SweepSessions(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweep after 60 h: %d removed (%v), want 1", n, err)
	}
	if r := tc.volume(t, idle, casproto.VolumeGet, "/data", 0, 0); r.Status != casproto.VolumeRefused || !strings.Contains(r.Reason, "unknown session") {
		t.Errorf("the idle session: %v %q, want refused as unknown", r.Status, r.Reason)
	}
	if r := tc.volume(t, busy, casproto.VolumeGet, "/data", 0, 0); r.Status != casproto.VolumeOK || r.Version != 2 {
		t.Errorf("the busy session: %v %d %q", r.Status, r.Version, r.Reason)
	}
	if r := tc.volume(t, old, casproto.VolumeGet, "/data", 0, 0); r.Status != casproto.VolumeOK {
		t.Errorf("the session stored without a use time was removed: %v %q", r.Status, r.Reason)
	}
	if _, err := New(WithSessionTTL(time.Second)); !errors.Is(err, ErrConfig) {
		t.Errorf("a session TTL of 1 s: %v", err)
	}
}
