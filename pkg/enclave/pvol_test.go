package enclave

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pvolFixtureConfig is the config of testdata/enclave/pvol.config.bin (the
// CAS fixture plus two protected volumes); the C parser reads it too
// (runtime/tests/test_econfig.c).
func pvolFixtureConfig() *Config {
	c := casFixtureConfig()
	c.ProtectedVolumes = []string{"/data", "/var/lib/db"}
	return c
}

// TestProtectedVolumeRecord: record 28 is written only when protected
// volumes are set, after the CAS records, so other configs encode (and
// measure) as before; it round-trips with and without a CAS.
func TestProtectedVolumeRecord(t *testing.T) {
	withCAS, err := casFixtureConfig().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b, err := pvolFixtureConfig().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[16:len(withCAS)], withCAS[16:]) {
		t.Fatal("the protected-volume record does not simply follow the other records")
	}
	if want := 8 + 4 + 4 + len("/data") + 4 + len("/var/lib/db"); len(b)-len(withCAS) != want {
		t.Fatalf("record 28 takes %d bytes, want %d", len(b)-len(withCAS), want)
	}
	if *update {
		if err := os.WriteFile(filepath.Join(fixtureDir, "pvol.config.bin"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := readFixture(t, "pvol.config.bin"); !bytes.Equal(got, b) {
		t.Fatal("testdata pvol.config.bin differs from pvolFixtureConfig(); run go test -update")
	}
	c, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.ProtectedVolumes, ",") != "/data,/var/lib/db" || !c.HasCAS() {
		t.Fatalf("parsed %q (CAS %v)", c.ProtectedVolumes, c.HasCAS())
	}
	noCAS := fixtureConfig()
	noCAS.ProtectedVolumes = []string{"/data"}
	nb, err := noCAS.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if c, err := ParseConfig(nb); err != nil || c.HasCAS() || len(c.ProtectedVolumes) != 1 {
		t.Fatalf("without CAS: %v", err)
	}
	// An empty record, and trailing bytes after it, are refused.
	plain, _ := fixtureConfig().MarshalBinary()
	empty := append(append([]byte{}, plain...), 28, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0)
	empty[12] += 12
	if _, err := ParseConfig(empty); err == nil {
		t.Fatal("empty protected-volume record accepted")
	}
	trail := append(append([]byte{}, b...), 0)
	trail[12]++
	if _, err := ParseConfig(trail); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

func TestProtectedVolumeValidate(t *testing.T) {
	for _, bad := range [][]string{
		{"/"}, {"data"}, {"/data/"}, {"/data/../x"}, {"/proc/x"}, {"/dev"}, {"/data", "/data/sub"},
		{"/data", "/data"}, {"/srv"},
	} {
		c := fixtureConfig()
		c.Volumes = []string{"/srv/plain"}
		c.ProtectedVolumes = bad
		if err := c.Validate(); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	c := fixtureConfig()
	c.ProtectedVolumes = []string{"/data", "/database"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
