package e2e

import (
	"os/exec"
	"testing"
)

// BenchmarkStartup: scone-run starting a static hello world in simulation
// mode until it exits, with the FS key from a key file and with
// attestation and secret release by a CAS (pkg/cas's server on loopback:
// TLS pinned to its key, challenge, a simulation quote, the sealed
// secrets), measured in one run. The difference of the two is what the
// CAS adds to a start (issue 20's target: at most +30 ms);
// docs/benchmarks.md has the numbers.
//
//	go test ./runtime/e2e -run '^$' -bench Startup -benchtime 200x
func BenchmarkStartup(b *testing.B) {
	rt := runtimeBin(b)
	bin := prog(b, "hello-glibc-static")
	keyFile := makeEnclave(b, rt, bin, nil)
	sk, skf := simQuoteKey(b)
	addr, id, ownerPub, apply := realCAS(b, &sk.PublicKey)
	withCAS, mre := casEnclave(b, rt, bin, addr, id, "startup", nil)
	apply(casPolicyOf(ownerPub, "startup", mre, true, withCAS.keyHex, "", ""))
	for _, c := range []struct {
		name string
		env  []string
	}{
		{"key-file", keyFile.env()},
		{"cas", casEnv(withCAS, skf)},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(rt)
				cmd.Env = c.env
				// the program ends with exit 3 (hello.c), anything else is a failure
				if out, err := cmd.CombinedOutput(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 3 {
					b.Fatalf("scone-run: %v, want exit 3\n%s", err, out)
				}
			}
		})
	}
}
