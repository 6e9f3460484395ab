package attest

import (
	"testing"
)

// BenchmarkVerifyCachedCollateral: what a CAS does per quote once the
// collateral of the platform is cached: parse the quote and verify it. The
// CAS target is 1,000 verifications/s on 2 cores; "parallel" runs on
// GOMAXPROCS goroutines (go test -cpu 1,2).
func BenchmarkVerifyCachedCollateral(b *testing.B) {
	qb, cb := readVector(b)
	c, err := ParseCollateral(cb)
	if err != nil {
		b.Fatal(err)
	}
	v, err := NewVerifier(WithTime(vectorTime))
	if err != nil {
		b.Fatal(err)
	}
	verify := func(b *testing.B) {
		q, err := ParseQuote(qb)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Verify(q, c); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			verify(b)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				verify(b)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
	})
}

// BenchmarkVerifyUncached verifies with nothing cached: collateral and PCK
// chain parsed and checked each time (what the CLI does once).
func BenchmarkVerifyUncached(b *testing.B) {
	qb, cb := readVector(b)
	for b.Loop() {
		q, c := mustParse(b, qb, cb)
		if _, err := Verify(q, c, WithTime(vectorTime)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}

// BenchmarkECDSAP256Verify is the baseline: one ECDSA-P256 verification (a
// cached verification does two), on GOMAXPROCS goroutines.
func BenchmarkECDSAP256Verify(b *testing.B) {
	k := genKey(b)
	msg := []byte("baseline")
	sig, err := signRaw(k, msg)
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !verifyRaw(&k.PublicKey, msg, sig[:]) {
				b.Fatal("baseline signature does not verify")
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}
