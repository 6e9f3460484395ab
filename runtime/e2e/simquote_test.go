package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"os/exec"
	"testing"

	"github.com/scone-build/scone-build/pkg/attest"
)

// TestSimQuoteFromC: a simulation quote made by the runtime's C builder
// (runtime/lib/simquote.c) verifies with pkg/attest.VerifySimulation, says
// what the report body says, and has the bytes NewSimulationQuote makes
// but for the two (randomized in Go, RFC 6979 in BearSSL) signatures.
func TestSimQuoteFromC(t *testing.T) {
	tool := prog(t, "simquote-tool")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	body := attest.ReportBody{
		MiscSelect: 0, Attributes: attest.Attributes{Flags: attest.FlagInit | attest.FlagMode64Bit | attest.FlagDebug, XFRM: 3},
		MRENCLAVE: sha256.Sum256([]byte("mrenclave")), MRSIGNER: sha256.Sum256([]byte("mrsigner")),
		ISVProdID: 0x1234, ISVSVN: 0x5678,
	}
	rd := sha256.Sum256([]byte("report data"))
	copy(body.ReportData[:], rd[:])
	raw, _ := body.MarshalBinary()
	var in bytes.Buffer
	in.Write(key.D.FillBytes(make([]byte, 32)))
	in.Write(raw)
	cmd := exec.Command(tool)
	cmd.Stdin = &in
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	q, err := attest.ParseQuote(out)
	if err != nil {
		t.Fatalf("ParseQuote of the C quote: %v", err)
	}
	res, err := attest.VerifySimulation(q, &key.PublicKey)
	if err != nil {
		t.Fatalf("VerifySimulation of the C quote: %v", err)
	}
	if !res.Simulation || res.Enclave != body {
		t.Fatalf("verified body %+v, want %+v", res.Enclave, body)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := attest.VerifySimulation(q, &other.PublicKey); err == nil {
		t.Fatal("the C quote verified with another simulation key")
	}
	goq, err := attest.NewSimulationQuote(body, rd[:], key)
	if err != nil {
		t.Fatal(err)
	}
	const sig, qeSig = 436, 948
	for _, r := range [][2]int{{0, sig}, {sig + 64, qeSig}, {qeSig + 64, len(goq)}} {
		if len(out) != len(goq) || !bytes.Equal(out[r[0]:r[1]], goq[r[0]:r[1]]) {
			t.Fatalf("C and Go quotes differ in bytes %d-%d (lengths %d, %d)", r[0], r[1], len(out), len(goq))
		}
	}
}
