// Package testenclave provides fixtures for tests that convert images: one
// enclave signer key per test binary (e=3 key generation takes a while), a
// random FS key, a tiny static ELF standing in for the runtime, and the
// host's static busybox as an application.
package testenclave

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
	"github.com/scone-build/scone-build/pkg/fsprotect"
)

// Fixtures are shared, read-only test inputs.
type Fixtures struct {
	Key     *rsa.PrivateKey
	Signer  *enclave.KeySigner
	FSKey   fsprotect.Key
	Runtime []byte // a static non-PIE ELF standing in for scone-run
	Busybox []byte // /bin/busybox (busybox-static)
}

var (
	once sync.Once
	fx   Fixtures
	ferr error
)

// Get returns the fixtures or skips the test with the reason.
func Get(t testing.TB) *Fixtures {
	t.Helper()
	once.Do(func() { ferr = build() })
	if ferr != nil {
		t.Skipf("test fixtures unavailable (needs gcc and busybox-static; run scripts/setup.sh): %v", ferr)
	}
	return &fx
}

func build() error {
	k, err := enclave.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	fx.Key = k
	if fx.Signer, err = enclave.NewKeySigner(k); err != nil {
		return err
	}
	if fx.FSKey, err = fskey.Generate(rand.Reader); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "scone-testenclave")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "rt.c")
	if err := os.WriteFile(src, []byte("void _start(void){ for(;;) __asm__ volatile(\"hlt\"); }\nint data = 42;\n"), 0o644); err != nil {
		return err
	}
	out := filepath.Join(dir, "rt")
	if b, err := exec.Command("gcc", "-static", "-nostdlib", "-no-pie", "-O2", "-o", out, src).CombinedOutput(); err != nil {
		return errors.New("building the stand-in runtime with gcc: " + err.Error() + ": " + string(b))
	}
	if fx.Runtime, err = os.ReadFile(out); err != nil {
		return err
	}
	fx.Busybox, err = os.ReadFile("/bin/busybox")
	return err
}
