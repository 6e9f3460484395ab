package enclave

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// casFixtureConfig is the config of testdata/enclave/cas.config.bin; the C
// test runtime/tests/test_econfig.c checks the same values.
func casFixtureConfig() *Config {
	c := fixtureConfig()
	c.CASAddress = "cas.example:8443"
	for i := range c.CASID {
		c.CASID[i] = byte(0xa0 + i)
	}
	c.CASPolicy = "web-prod"
	return c
}

// TestHostPortVectors reads testdata/enclave/casaddr.txt (the C parser,
// netaddr.c, reads the same file): CheckHostPort, for the CAS address and
// the TLS connect destinations alike (CheckCASAddress is CheckHostPort).
func TestHostPortVectors(t *testing.T) {
	f, err := os.Open(filepath.Join(fixtureDir, "casaddr.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		verdict, addr, ok := strings.Cut(line, " ")
		if !ok || (verdict != "valid" && verdict != "invalid") {
			t.Fatalf("bad vector line %q", line)
		}
		n++
		err := CheckHostPort("tls connect", addr)
		if (err == nil) != (verdict == "valid") {
			t.Errorf("CheckHostPort(%q) = %v, vector says %s", addr, err, verdict)
		}
		var ce *ConfigError
		if err != nil && (!errors.As(err, &ce) || ce.Field != "tls connect") {
			t.Errorf("CheckHostPort(%q) = %#v, want a *ConfigError of the field", addr, err)
		}
		if cerr := CheckCASAddress(addr); (cerr == nil) != (err == nil) {
			t.Errorf("CheckCASAddress(%q) = %v, CheckHostPort %v", addr, cerr, err)
		}
	}
	if n < 50 {
		t.Fatalf("only %d vectors", n)
	}
}

// TestCASRecords: the records are written only when a CAS is set, so a
// config without one encodes exactly as before (the fixtures and their
// MRENCLAVE in TestFixtures stay byte-identical), and they round-trip.
func TestCASRecords(t *testing.T) {
	plain, err := fixtureConfig().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	withCAS, err := casFixtureConfig().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(withCAS[16:len(plain)], plain[16:]) {
		t.Fatal("the CAS records do not simply follow the records of a config without CAS")
	}
	want := 3*8 + len("cas.example:8443") + 32 + len("web-prod")
	if len(withCAS)-len(plain) != want {
		t.Fatalf("CAS records take %d bytes, want %d", len(withCAS)-len(plain), want)
	}
	if *update {
		if err := os.WriteFile(filepath.Join(fixtureDir, "cas.config.bin"), withCAS, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := readFixture(t, "cas.config.bin"); !bytes.Equal(got, withCAS) {
		t.Fatal("testdata cas.config.bin differs from casFixtureConfig(); run go test -update")
	}
	c, err := ParseConfig(withCAS)
	if err != nil {
		t.Fatal(err)
	}
	w := casFixtureConfig()
	if !c.HasCAS() || c.CASAddress != w.CASAddress || c.CASID != w.CASID || c.CASPolicy != w.CASPolicy {
		t.Fatalf("parsed CAS %q %x %q", c.CASAddress, c.CASID, c.CASPolicy)
	}
	if p, err := ParseConfig(plain); err != nil || p.HasCAS() {
		t.Fatalf("config without CAS: %v, HasCAS %v", err, p != nil && p.HasCAS())
	}
}

func TestCASValidate(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(c *Config)
		field string
	}{
		{"id without address", func(c *Config) { c.CASAddress = ""; c.CASPolicy = "" }, "cas address"},
		{"policy without address", func(c *Config) { c.CASAddress = ""; c.CASID = [32]byte{} }, "cas address"},
		{"zero id", func(c *Config) { c.CASID = [32]byte{} }, "cas id"},
		{"no policy", func(c *Config) { c.CASPolicy = "" }, "cas policy"},
		{"policy upper case", func(c *Config) { c.CASPolicy = "Web" }, "cas policy"},
		{"policy too long", func(c *Config) { c.CASPolicy = strings.Repeat("a", 64) }, "cas policy"},
		{"address without port", func(c *Config) { c.CASAddress = "cas.example" }, "cas address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := casFixtureConfig()
			tt.mod(c)
			_, err := c.MarshalBinary()
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("MarshalBinary error = %v, want field %q", err, tt.field)
			}
		})
	}
	c := casFixtureConfig()
	c.CASPolicy = "0." + strings.Repeat("a", 61)
	if _, err := c.MarshalBinary(); err != nil {
		t.Fatalf("63-byte policy name: %v", err)
	}
}

// TestCASParseRefuses: partial, reordered or extra CAS records.
func TestCASParseRefuses(t *testing.T) {
	plain, _ := fixtureConfig().MarshalBinary()
	rec := func(tag uint32, v string) []byte {
		b := binary.LittleEndian.AppendUint32(nil, tag)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		return append(b, v...)
	}
	id := string(bytes.Repeat([]byte{7}, 32))
	build := func(recs ...[]byte) []byte {
		b := append([]byte(nil), plain...)
		for _, r := range recs {
			b = append(b, r...)
		}
		binary.LittleEndian.PutUint32(b[12:], uint32(len(b)-16))
		return b
	}
	if _, err := ParseConfig(build(rec(22, "cas:1"), rec(23, id), rec(24, "p"))); err != nil {
		t.Fatalf("well-formed CAS records refused: %v", err)
	}
	for name, b := range map[string][]byte{
		"address only":       build(rec(22, "cas:1")),
		"no policy":          build(rec(22, "cas:1"), rec(23, id)),
		"reordered":          build(rec(22, "cas:1"), rec(24, "p"), rec(23, id)),
		"id not 32 bytes":    build(rec(22, "cas:1"), rec(23, id[:31]), rec(24, "p")),
		"empty address":      build(rec(22, ""), rec(23, id), rec(24, "p")),
		"zero id":            build(rec(22, "cas:1"), rec(23, string(make([]byte, 32))), rec(24, "p")),
		"bad address":        build(rec(22, "cas"), rec(23, id), rec(24, "p")),
		"bad policy":         build(rec(22, "cas:1"), rec(23, id), rec(24, "P")),
		"record 25":          build(rec(22, "cas:1"), rec(23, id), rec(24, "p"), rec(25, "")),
		"id record first":    build(rec(23, id)),
		"NUL in address":     build(rec(22, "cas\x00:1"), rec(23, id), rec(24, "p")),
		"policy record only": build(rec(24, "p")),
	} {
		if _, err := ParseConfig(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
