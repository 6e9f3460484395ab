package attest

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzVector reads the real vector when present (the fuzz targets run
// without it too, seeded from the test PKI).
func fuzzVector(f *testing.F) (quote, collateral []byte) {
	dir := os.Getenv("SCONE_DCAP_TESTVECTORS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "testvectors", "dcap")
	}
	q, err1 := os.ReadFile(filepath.Join(dir, "sgx_quote_v3.bin"))
	c, err2 := os.ReadFile(filepath.Join(dir, "sgx_quote_v3_collateral.json"))
	if err1 != nil || err2 != nil {
		f.Logf("the DCAP test vector is absent (%v %v): seeding from the test PKI only", err1, err2)
		return nil, nil
	}
	return q, c
}

// FuzzParseQuote: no input panics the parser or the verifiers; what parses
// re-encodes to the same bytes; a parse error is a *FormatError.
func FuzzParseQuote(f *testing.F) {
	vq, vc := fuzzVector(f)
	p := newTestPKI(f)
	simKey := genKey(f)
	seeds := [][]byte{p.quote(f, nil), simQuote(f, simKey), {}, make([]byte, MinQuoteSize)}
	var coll *Collateral
	if vq != nil {
		seeds = append(seeds, vq, vq[:SignedSize], vq[:len(vq)-100])
		var err error
		if coll, err = ParseCollateral(vc); err != nil {
			f.Fatal(err)
		}
	}
	for _, s := range seeds {
		f.Add(s)
	}
	pc, err := ParseCollateral(p.collateral(f, nil))
	if err != nil {
		f.Fatal(err)
	}
	testV, _ := NewVerifier(WithRootPublicKey(&p.rootKey.PublicKey), WithTime(p.now))
	intelV, _ := NewVerifier(WithTime(vectorTime))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseQuote(b)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("parse error %T %v is not a *FormatError", err, err)
			}
			return
		}
		m, err := q.MarshalBinary()
		if err != nil || !bytes.Equal(m, b) {
			t.Fatalf("re-encoding differs (err %v)", err)
		}
		_, _ = VerifySimulation(q, &simKey.PublicKey)
		_, _ = testV.Verify(q, pc)
		if coll != nil {
			_, _ = intelV.Verify(q, coll)
		}
	})
}

// FuzzParseCollateral: no input panics the parser or Verify; a parse error
// is a *FormatError.
func FuzzParseCollateral(f *testing.F) {
	vq, vc := fuzzVector(f)
	p := newTestPKI(f)
	f.Add(p.collateral(f, nil))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"tcb_info": 1}`))
	var vquote *Quote
	if vc != nil {
		f.Add(vc)
		var err error
		if vquote, err = ParseQuote(vq); err != nil {
			f.Fatal(err)
		}
	}
	tq, err := ParseQuote(p.quote(f, nil))
	if err != nil {
		f.Fatal(err)
	}
	var root *ecdsa.PublicKey = &p.rootKey.PublicKey
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCollateral(b)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("parse error %T %v is not a *FormatError", err, err)
			}
			return
		}
		_, _ = Verify(tq, c, WithRootPublicKey(root), WithTime(p.now))
		if vquote != nil {
			_, _ = Verify(vquote, c, WithTime(vectorTime))
		}
	})
}
