package testruntime

import (
	"os"
	"testing"

	"github.com/scone-build/scone-build/pkg/convert"
	"github.com/scone-build/scone-build/pkg/enclave"
)

// Options: the conversion options the environment asks for (none when
// unset); a value that does not parse fails the test.
func Options(t testing.TB) []convert.Option {
	t.Helper()
	var opts []convert.Option
	if v := os.Getenv("SCONE_E2E_TRANSPORT"); v != "" {
		tr, err := enclave.ParseTransport(v)
		if err != nil {
			t.Fatalf("SCONE_E2E_TRANSPORT: %v", err)
		}
		opts = append(opts, convert.WithTransport(tr, enclave.DefaultExitCycles))
	}
	if v := os.Getenv("SCONE_E2E_SCHEDULER"); v != "" {
		sc, err := enclave.ParseScheduler(v)
		if err != nil {
			t.Fatalf("SCONE_E2E_SCHEDULER: %v", err)
		}
		opts = append(opts, convert.WithScheduler(sc))
	}
	return opts
}
