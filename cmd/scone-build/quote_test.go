package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/pkg/attest"
)

// dcapDir is the directory of the real DCAP quote and its collateral, read
// in place (SCONE_DCAP_TESTVECTORS overrides).
func dcapDir() string {
	if d := os.Getenv("SCONE_DCAP_TESTVECTORS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "testvectors", "dcap")
}

// writeSimulationInputs writes a simulation key pair's public keys and a
// simulation quote signed by the first (for the {{SIM...}} placeholders).
// simSigner is the private key of sim.pub (the CAS of {{CASENCLAVE}}
// quotes its enclave with it).
var simSigner *ecdsa.PrivateKey

func writeSimulationInputs(dir string) error {
	var pubs [][]byte
	var first *ecdsa.PrivateKey
	for i := 0; i < 2; i++ {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			return err
		}
		pubs = append(pubs, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		if first == nil {
			first = k
			simSigner = k
		}
	}
	body := attest.ReportBody{ISVProdID: 1, ISVSVN: 2, Attributes: attest.Attributes{Flags: attest.FlagInit | attest.FlagMode64Bit, XFRM: 3}}
	copy(body.MRENCLAVE[:], bytes.Repeat([]byte{0x5c}, 32))
	copy(body.MRSIGNER[:], bytes.Repeat([]byte{0x0e}, 32))
	q, err := attest.NewSimulationQuote(body, []byte("simulated by the CLI test"), first)
	if err != nil {
		return err
	}
	for name, b := range map[string][]byte{"sim.pub": pubs[0], "other-sim.pub": pubs[1], "sim-quote.bin": q} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// editFile runs the input-making lines of a CLI case: !flip IN OFFSET OUT,
// !truncate IN SIZE OUT, !replace IN OLD NEW OUT.
func editFile(t *testing.T, args []string) {
	t.Helper()
	want := map[string]int{"!flip": 4, "!truncate": 4, "!replace": 5}[args[0]]
	if want == 0 || len(args) != want {
		t.Fatalf("bad line %q: want !flip IN OFFSET OUT, !truncate IN SIZE OUT or !replace IN OLD NEW OUT", strings.Join(args, " "))
	}
	b, err := os.ReadFile(args[1])
	if err != nil {
		t.Fatal(err)
	}
	switch args[0] {
	case "!flip", "!truncate":
		n, err := strconv.Atoi(args[2])
		if err != nil || n < 0 || n >= len(b) {
			t.Fatalf("%s: offset %q outside the %d bytes of %s", args[0], args[2], len(b), args[1])
		}
		if args[0] == "!flip" {
			b[n] ^= 1 << (n % 8)
		} else {
			b = b[:n]
		}
	case "!replace":
		if !bytes.Contains(b, []byte(args[2])) {
			t.Fatalf("!replace: %q is not in %s", args[2], args[1])
		}
		b = bytes.Replace(b, []byte(args[2]), []byte(args[3]), 1)
	}
	if err := os.WriteFile(args[len(args)-1], b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// The goldens normalize 64-hex values away; this checks the real values the
// CLI prints for the real quote, and the default time (now: the vector's
// collateral has expired).
func TestQuoteVerifyPrintsTheVector(t *testing.T) {
	dir := dcapDir()
	q, c := filepath.Join(dir, "sgx_quote_v3.bin"), filepath.Join(dir, "sgx_quote_v3_collateral.json")
	if _, err := os.Stat(q); err != nil {
		t.Skipf("SKIP: the DCAP test vector is absent (%v): it lives in /work/shared/testvectors/dcap; set SCONE_DCAP_TESTVECTORS to its directory", err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"quote", "verify", q, "--collateral", c, "--at", "2025-07-01T00:00:00Z"}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{
		"MRENCLAVE    33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb\n",
		"MRSIGNER     815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6\n",
		"ISVPRODID    0\n", "ISVSVN       0\n", "(INIT, MODE64BIT; not DEBUG)",
		"report data  48656c6c6f2c20776f726c6421", `("Hello, world!", then zero bytes)`,
		"FMSPC        00a067110000", "TCB status   ConfigurationAndSWHardeningNeeded:",
		"advisories   INTEL-SA-00289, INTEL-SA-00615\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	errb.Reset()
	code = run(context.Background(), []string{"quote", "verify", q, "--collateral", c}, strings.NewReader(""), &out, &errb)
	if code != exitVerification || out.Len() != 0 || !strings.Contains(errb.String(), "collateral expired at 2025-07-19T10:01:18Z") ||
		!strings.Contains(errb.String(), "fetch fresh collateral from the PCCS/PCS") {
		t.Errorf("verifying now: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
