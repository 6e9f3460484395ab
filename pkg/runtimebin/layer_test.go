package runtimebin_test

import (
	"errors"
	"testing"

	"github.com/scone-build/scone-build/pkg/runtimebin"
	"github.com/scone-build/scone-build/pkg/sconeimage"
)

// TestPrebuiltLayer: the layer `make runtime` builds and embeds is the one
// every conversion would build from the embedded binaries, byte for byte
// (so converted images keep their digests), and it is refused for other
// binaries.
func TestPrebuiltLayer(t *testing.T) {
	run, err := runtimebin.Binary(runtimebin.Run)
	if err != nil {
		t.Skipf("runtime not embedded: run `make runtime` (make test does): %v", err)
	}
	host, err := runtimebin.Binary(runtimebin.Host)
	if err != nil {
		t.Fatal(err)
	}
	comp, m, err := runtimebin.Layer(run, host)
	if err != nil {
		t.Fatalf("no prebuilt layer for the embedded binaries (make runtime builds it): %v", err)
	}
	pre, err := sconeimage.PrebuiltRuntimeLayer(comp, m.Digest, m.DiffID)
	if err != nil {
		t.Fatal(err)
	}
	built, err := sconeimage.RuntimeLayer(run, host)
	if err != nil {
		t.Fatal(err)
	}
	pd, _ := pre.Digest()
	bd, _ := built.Digest()
	pdi, _ := pre.DiffID()
	bdi, _ := built.DiffID()
	if pd != bd || pdi != bdi {
		t.Fatalf("prebuilt layer %s (diff ID %s), built now %s (%s)", pd, pdi, bd, bdi)
	}

	other := append([]byte{}, run...)
	other[len(other)-1] ^= 1
	if _, _, err := runtimebin.Layer(other, host); !errors.Is(err, runtimebin.ErrNoLayer) {
		t.Fatalf("layer for other binaries: %v, want ErrNoLayer", err)
	}
	bad := append([]byte{}, comp...)
	bad[len(bad)/2] ^= 1
	if _, err := sconeimage.PrebuiltRuntimeLayer(bad, m.Digest, m.DiffID); err == nil {
		t.Fatal("a modified prebuilt layer was accepted")
	}
}
