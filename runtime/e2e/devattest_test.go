package e2e

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/enclave"
)

// devattestOut parses what testdata/devattest.c prints: name -> value.
func devattestOut(t testing.TB, r result) map[string]string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		m[k] = v
	}
	return m
}

// TestDevAttestation: Gramine's /dev/attestation in simulation mode. A
// program writes REPORTDATA and reads a simulation quote that verifies
// with the host's simulation key and carries the enclave's MRENCLAVE,
// MRSIGNER and that REPORTDATA; the sealing keys are 16 bytes, stable
// across runs, per MRENCLAVE (another enclave of the same signer: another
// _sgx_mrenclave key, the same _sgx_mrsigner key) and per platform
// (another simulation quote key: other keys). Without a simulation quote
// key the files do not exist.
func TestDevAttestation(t *testing.T) {
	rt := runtimeBin(t)
	bin := prog(t, "devattest-static")
	sk, skf := simQuoteKey(t)
	e := makeEnclave(t, rt, bin, nil)
	other := makeEnclave(t, rt, bin, func(c *enclave.Config) { c.Env = append(c.Env, "OTHER=1") })
	env := func(e simEnclave, keyFile string) []string {
		return e.env("SCONE_SIM_QUOTE_KEY_FILE=" + keyFile)
	}
	first := devattestOut(t, run(t, env(e, skf), rt))
	wantRD := make([]byte, 64)
	for i := range wantRD {
		wantRD[i] = byte(i*3 + 1)
	}
	if first["write"] != "64, short write: EINVAL" || first["report_data"] != hex.EncodeToString(wantRD) {
		t.Fatalf("user_report_data: write %q, read back %q", first["write"], first["report_data"])
	}
	qb, err := hex.DecodeString(first["quote"])
	if err != nil {
		t.Fatalf("quote %q: %v", first["quote"], err)
	}
	q, err := attest.ParseQuote(qb)
	if err != nil {
		t.Fatal(err)
	}
	res, err := attest.VerifySimulation(q, &sk.PublicKey)
	if err != nil {
		t.Fatalf("the quote does not verify: %v", err)
	}
	cfgMR := measure(t, rt, e)
	if res.Enclave.MRENCLAVE != cfgMR || hex.EncodeToString(res.Enclave.MRSIGNER[:]) != e.mrsigner ||
		!bytes.Equal(res.Enclave.ReportData[:], wantRD) {
		t.Fatalf("quote of MRENCLAVE %x MRSIGNER %x REPORTDATA %x; want %x, %s, %x", res.Enclave.MRENCLAVE,
			res.Enclave.MRSIGNER, res.Enclave.ReportData, cfgMR, e.mrsigner, wantRD)
	}
	if len(first["mrenclave_key"]) != 32 || len(first["mrsigner_key"]) != 32 || first["mrenclave_key"] == first["mrsigner_key"] {
		t.Fatalf("sealing keys %q, %q: want two different 16-byte keys", first["mrenclave_key"], first["mrsigner_key"])
	}
	if first["other"] != "error 2" {
		t.Fatalf("an unknown key: %q, want ENOENT", first["other"])
	}

	again := devattestOut(t, run(t, env(e, skf), rt))
	sibling := devattestOut(t, run(t, env(other, skf), rt))
	_, skf2 := simQuoteKey(t)
	platform2 := devattestOut(t, run(t, env(e, skf2), rt))
	for _, tc := range []struct {
		name       string
		got        map[string]string
		sameMRE    bool
		sameSigner bool
	}{
		{"the same enclave again", again, true, true},
		{"another enclave of the signer", sibling, false, true},
		{"another platform (simulation quote key)", platform2, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.got["mrenclave_key"] == first["mrenclave_key"]) != tc.sameMRE ||
				(tc.got["mrsigner_key"] == first["mrsigner_key"]) != tc.sameSigner {
				t.Fatalf("keys %s %s, first %s %s: want same MRENCLAVE key %v, same MRSIGNER key %v",
					tc.got["mrenclave_key"], tc.got["mrsigner_key"], first["mrenclave_key"], first["mrsigner_key"], tc.sameMRE, tc.sameSigner)
			}
		})
	}
	t.Run("without a simulation quote key", func(t *testing.T) {
		got := devattestOut(t, run(t, e.env(), rt))
		if got["quote"] != "error 2" || got["mrenclave_key"] != "error 2" {
			t.Fatalf("without SCONE_SIM_QUOTE_KEY_FILE: %v", got)
		}
	})
}

// measure is the MRENCLAVE of the runtime rt with e's config.
func measure(t testing.TB, rt string, e simEnclave) [32]byte {
	t.Helper()
	f, err := os.Open(rt)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfgBin, err := os.ReadFile(filepath.Join(e.dir, "config.bin"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := enclave.Measure(f, cfgBin)
	if err != nil {
		t.Fatal(err)
	}
	return m.MRENCLAVE
}
