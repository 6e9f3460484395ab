package cas

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scone-build/scone-build/pkg/casproto"
)

// benchCAS is a CAS with a bbolt store (on disk: every activation is
// counted durably) and a policy the simulated enclave matches.
func benchCAS(b *testing.B) *testCAS {
	st := openBolt(b, filepath.Join(b.TempDir(), "cas.db"), testStoreKey)
	tc := newTestCAS(b, WithStore(st))
	owner := genEd25519(b)
	tc.apply(b, owner, policyDoc(b, owner, "bench", "", fullGrants))
	return tc
}

func reportRate(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "attestations/s")
}

// BenchmarkAttestSimulation: whole simulation attestations in parallel,
// the enclave's work included (session key, simulation quote with two
// ECDSA signatures, opening the secrets) and the server's (challenge,
// quote verification, policy, durable activation count, rendering,
// sealing), through the HTTP handler without TLS.
func BenchmarkAttestSimulation(b *testing.B) {
	tc := benchCAS(b)
	h := tc.srv.Handler()
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		e := tc.enclave()
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, casproto.PathChallenge, nil))
			req, session := e.request(b, "bench", [32]byte(w.Body.Bytes()))
			body, _ := req.MarshalBinary()
			w = httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, casproto.PathAttest, bytes.NewReader(body)))
			resp, err := casproto.ParseAttestResponse(w.Body.Bytes())
			if err != nil || resp.Status != casproto.StatusReleased {
				b.Fatalf("%v %+v", err, resp)
			}
			eph, _ := resp.EphemeralKey()
			if _, err := casproto.Open(session, eph, req.Nonce, resp.PolicyHash, resp.Sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
	reportRate(b, start)
}

// BenchmarkAttestServer: the server's side only: the requests (nonces,
// quotes) are made before the timer starts.
func BenchmarkAttestServer(b *testing.B) {
	tc := benchCAS(b)
	h := tc.srv.Handler()
	e := tc.enclave()
	bodies := make([][]byte, b.N)
	for i := range bodies {
		n, err := tc.srv.nonces.issue(nonceEnclave)
		if err != nil {
			b.Fatal(err)
		}
		req, _ := e.request(b, "bench", n)
		bodies[i], _ = req.MarshalBinary()
	}
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := bodies[next.Add(1)-1]
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, casproto.PathAttest, bytes.NewReader(body)))
			if w.Code != 200 || w.Body.Len() < 100 {
				b.Fatalf("%d %q", w.Code, w.Body.Bytes())
			}
		}
	})
	reportRate(b, start)
}

// BenchmarkAttestTLS: whole attestations over TLS (kept-alive
// connections, as a runtime's retry would not reuse one; this is the
// server's TLS record cost, not handshakes).
func BenchmarkAttestTLS(b *testing.B) {
	tc := benchCAS(b)
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		e := tc.enclave()
		for pb.Next() {
			if r, _ := tc.attest(b, e, "bench"); r.Status != casproto.StatusReleased {
				b.Fatal(r.Reason)
			}
		}
	})
	reportRate(b, start)
}

// BenchmarkVolumeRecordTLS: the window of rollback detection as the CAS
// adds it: one volume record (a higher version each time) from an
// attested session over pinned TLS (kept alive, as the runtime's
// recording connection is) to the acknowledgement, durable in bbolt on
// disk. bench/volume-freshness.sh runs it once for docs/volume.md.
func BenchmarkVolumeRecordTLS(b *testing.B) {
	st := openBolt(b, filepath.Join(b.TempDir(), "cas.db"), testStoreKey)
	tc := newTestCAS(b, WithStore(st))
	owner := genEd25519(b)
	tc.apply(b, owner, policyDoc(b, owner, "db", "", volumePolicy))
	s := tc.volSession(b, "db")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := tc.volume(b, s, casproto.VolumeRecord, "/data", uint64(i+1), byte(i)); r.Status != casproto.VolumeOK {
			b.Fatalf("record %d: %v %s", i+1, r.Status, r.Reason)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/record")
}
