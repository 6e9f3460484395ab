package enclave

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// tlsFixtureConfig is fixtureConfig with the network shield's optional
// records: testdata/enclave/tls.config.bin, which test_econfig.c reads.
func tlsFixtureConfig() *Config {
	c := fixtureConfig()
	c.TLSClientCA = "/etc/tls/clients.pem"
	c.TLSConnect = []string{"db.internal:5432", "10.0.0.7:6379", "[2001:db8::1]:443"}
	c.TLSCA = "/etc/tls/ca.pem"
	return c
}

func TestTLSConfigFixture(t *testing.T) {
	b, err := tlsFixtureConfig().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(fixtureDir, "tls.config.bin")
	if *update {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(b, want) {
		t.Fatalf("testdata tls.config.bin differs from tlsFixtureConfig() (%v); run go test -update", err)
	}
	got, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, tlsFixtureConfig()) {
		t.Fatalf("round trip: %+v", got)
	}
	// Without the optional fields the encoding is the one of before: a
	// prefix of this one (the records follow record 21).
	base, _ := fixtureConfig().MarshalBinary()
	if !bytes.Equal(base[16:], b[16:len(base)]) {
		t.Fatal("the optional records changed the records before them")
	}
}

func TestTLSConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name  string
		mod   func(c *Config)
		field string
	}{
		{"client CA without ports", func(c *Config) { c.TLSPorts, c.TLSCert, c.TLSKey = nil, "", "" }, "tls client ca"},
		{"relative client CA", func(c *Config) { c.TLSClientCA = "ca.pem" }, "tls client ca"},
		{"connect without CA", func(c *Config) { c.TLSCA = "" }, "tls ca"},
		{"CA without connect", func(c *Config) { c.TLSConnect = nil }, "tls ca"},
		{"relative CA", func(c *Config) { c.TLSCA = "ca.pem" }, "tls ca"},
		{"destination without port", func(c *Config) { c.TLSConnect = []string{"db.internal"} }, "tls connect"},
		{"destination port 0", func(c *Config) { c.TLSConnect = []string{"db:0"} }, "tls connect"},
		{"IPv6 without brackets", func(c *Config) { c.TLSConnect = []string{"2001:db8::1:443"} }, "tls connect"},
		{"duplicate destination", func(c *Config) { c.TLSConnect = []string{"a:1", "a:1"} }, "tls connect"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := tlsFixtureConfig()
			tt.mod(c)
			_, err := c.MarshalBinary()
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("error %v, want field %q", err, tt.field)
			}
		})
	}
}

// TestTLSConfigParseRefuses: the optional records are in ascending order,
// each once, known, not empty.
func TestTLSConfigParseRefuses(t *testing.T) {
	base, _ := fixtureConfig().MarshalBinary()
	rec := func(tag uint32, v string) []byte {
		b := binary.LittleEndian.AppendUint32(nil, tag)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		return append(b, v...)
	}
	list := string(listv([]string{"db:5432"}))
	with := func(recs ...[]byte) []byte {
		b := append([]byte(nil), base...)
		for _, r := range recs {
			b = append(b, r...)
		}
		binary.LittleEndian.PutUint32(b[12:], uint32(len(b)-16))
		return b
	}
	if _, err := ParseConfig(with(rec(tagTLSClientCA, "/ca"), rec(tagTLSConnect, list), rec(tagTLSCA, "/ca"))); err != nil {
		t.Fatalf("well-formed: %v", err)
	}
	for name, b := range map[string][]byte{
		"out of order":     with(rec(tagTLSCA, "/ca"), rec(tagTLSConnect, list)),
		"repeated":         with(rec(tagTLSClientCA, "/a"), rec(tagTLSClientCA, "/b")),
		"unknown tag":      with(rec(28, "x")),
		"tag of record 21": with(rec(21, string(listv(nil)))),
		"empty client CA":  with(rec(tagTLSClientCA, "")),
		"empty list":       with(rec(tagTLSConnect, string(listv(nil))), rec(tagTLSCA, "/ca")),
		"CA alone":         with(rec(tagTLSCA, "/ca")),
		"truncated":        with(rec(tagTLSClientCA, "/ca"))[:len(base)+6],
	} {
		if _, err := ParseConfig(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
