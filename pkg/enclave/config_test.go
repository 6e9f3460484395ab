package enclave

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// fixtureConfig is the config of testdata/enclave/config.bin; the C test
// runtime/tests/test_econfig.c checks the same values.
func fixtureConfig() *Config {
	c := &Config{
		Argv:          []string{"/app/server", "--port", "8443"},
		Env:           []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"},
		HostEnv:       []string{"LOG_LEVEL"},
		HostArgs:      true,
		Cwd:           "/app",
		UID:           1000,
		GID:           1001,
		HeapSize:      1 << 20,
		StackSize:     64 << 10,
		MaxThreads:    2,
		ConsoleShield: true,
		TLSPorts:      []uint16{443, 8443},
		TLSCert:       "/etc/tls/cert.pem",
		TLSKey:        "/etc/tls/key.pem",
		Transport:     TransportAsync,
		ExitCycles:    8000,
		Entrypoint:    "/app/server",
		Interpreter:   "/lib/ld-musl-x86_64.so.1",
		Libraries:     []string{"/lib/libc.musl-x86_64.so.1"},
		Volumes:       []string{"/var/data"},
	}
	for i := range c.FSRoot {
		c.FSRoot[i] = byte(i)
	}
	return c
}

func minimalConfig() *Config {
	c := DefaultConfig()
	c.Argv = []string{"app"}
	c.Entrypoint = "/app"
	return c
}

func TestConfigRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		cfg  *Config
	}{
		{"fixture", fixtureConfig()},
		{"minimal defaults", minimalConfig()},
		{"empty strings in argv", func() *Config { c := minimalConfig(); c.Argv = []string{"", ""}; return c }()},
		{"sync zero exit cost", func() *Config { c := minimalConfig(); c.ExitCycles = 0; return c }()},
		{"mn scheduler", func() *Config { c := minimalConfig(); c.Scheduler = SchedulerMN; return c }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.cfg.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			got, err := ParseConfig(b)
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			b2, err := got.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary again: %v", err)
			}
			if !bytes.Equal(b, b2) {
				t.Fatalf("re-encoding differs")
			}
			// nil and empty slices encode the same; compare encodings, then fields that matter
			if got.HeapSize != tt.cfg.HeapSize || got.FSRoot != tt.cfg.FSRoot || !reflect.DeepEqual(got.TLSPorts, tt.cfg.TLSPorts) ||
				!reflect.DeepEqual(got.Argv, tt.cfg.Argv) || got.Transport != tt.cfg.Transport || got.ExitCycles != tt.cfg.ExitCycles ||
				got.Scheduler != tt.cfg.Scheduler {
				t.Fatalf("round trip changed fields: %+v vs %+v", got, tt.cfg)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := &Config{}
	c.ApplyDefaults()
	if c.HeapSize != 1<<30 || c.StackSize != 8<<20 || c.MaxThreads != 64 || c.Transport != TransportSync || c.ExitCycles != 8000 || c.Cwd != "/" {
		t.Fatalf("defaults: %+v", c)
	}
	c = &Config{Transport: TransportSync}
	c.ApplyDefaults()
	if c.ExitCycles != 0 {
		t.Fatalf("explicit sync transport got exit cycles %d, want 0", c.ExitCycles)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(c *Config)
		field string
	}{
		{"no argv", func(c *Config) { c.Argv = nil }, "argv"},
		{"nul in argv", func(c *Config) { c.Argv = []string{"a\x00b"} }, "argv"},
		{"env without =", func(c *Config) { c.Env = []string{"FOO"} }, "env"},
		{"env empty name", func(c *Config) { c.Env = []string{"=x"} }, "env"},
		{"env duplicate", func(c *Config) { c.Env = []string{"A=1", "A=2"} }, "env"},
		{"host env with =", func(c *Config) { c.HostEnv = []string{"A=B"} }, "host env"},
		{"host env duplicate", func(c *Config) { c.HostEnv = []string{"A", "A"} }, "host env"},
		{"host env PATH", func(c *Config) { c.HostEnv = []string{"PATH"} }, "host env"},
		{"host env LD_PRELOAD", func(c *Config) { c.HostEnv = []string{"LOG", "LD_PRELOAD"} }, "host env"},
		{"host env LD_LIBRARY_PATH", func(c *Config) { c.HostEnv = []string{"LD_LIBRARY_PATH"} }, "host env"},
		{"host env PYTHONPATH", func(c *Config) { c.HostEnv = []string{"PYTHONPATH"} }, "host env"},
		{"host env exported bash function", func(c *Config) { c.HostEnv = []string{"BASH_FUNC_f%%"} }, "host env"},
		{"relative cwd", func(c *Config) { c.Cwd = "app" }, "cwd"},
		{"heap not page multiple", func(c *Config) { c.HeapSize = 1<<20 + 1 }, "heap size"},
		{"heap too small", func(c *Config) { c.HeapSize = 4096 }, "heap size"},
		{"heap too big", func(c *Config) { c.HeapSize = 32 << 30 }, "heap size"},
		{"stack too small", func(c *Config) { c.StackSize = 4096 }, "stack size"},
		{"zero threads", func(c *Config) { c.MaxThreads = 0 }, "max threads"},
		{"too many threads", func(c *Config) { c.MaxThreads = 1025 }, "max threads"},
		{"port 0", func(c *Config) { c.TLSPorts = []uint16{0}; c.TLSCert, c.TLSKey = "/c", "/k" }, "tls ports"},
		{"ports unsorted", func(c *Config) { c.TLSPorts = []uint16{2, 1}; c.TLSCert, c.TLSKey = "/c", "/k" }, "tls ports"},
		{"ports without cert", func(c *Config) { c.TLSPorts = []uint16{443} }, "tls cert"},
		{"cert without ports", func(c *Config) { c.TLSCert = "/c" }, "tls cert"},
		{"bad transport", func(c *Config) { c.Transport = 7 }, "transport"},
		{"bad scheduler", func(c *Config) { c.Scheduler = 2 }, "scheduler"},
		{"relative entrypoint", func(c *Config) { c.Entrypoint = "bin/app" }, "entrypoint"},
		{"relative interpreter", func(c *Config) { c.Interpreter = "ld.so" }, "interpreter"},
		{"relative library", func(c *Config) { c.Libraries = []string{"libc.so"} }, "libraries"},
		{"relative volume", func(c *Config) { c.Volumes = []string{"data"} }, "volumes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := minimalConfig()
			tt.mod(c)
			_, err := c.MarshalBinary()
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("MarshalBinary error = %v, want *ConfigError", err)
			}
			if ce.Field != tt.field {
				t.Fatalf("field = %q, want %q (%v)", ce.Field, tt.field, err)
			}
		})
	}
}

func TestParseConfigRefuses(t *testing.T) {
	good, err := fixtureConfig().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name    string
		in      []byte
		version bool
	}{
		{"empty", nil, false},
		{"bad magic", mod(func(b []byte) []byte { b[0] = 'X'; return b }), false},
		{"version 2", mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 2); return b }), true},
		{"truncated", good[:len(good)-1], false},
		{"trailing byte", mod(func(b []byte) []byte {
			b = append(b, 0)
			binary.LittleEndian.PutUint32(b[12:], uint32(len(b)-16))
			return b
		}), false},
		{"body length mismatch", mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 1); return b }), false},
		{"first tag wrong", mod(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[16:], 2); return b }), false},
		{"bool out of range", mod(func(b []byte) []byte {
			// tag 4 (host args) follows argv, env, host env; find it by re-walking
			off := 16
			for i := 0; i < 3; i++ {
				off += 8 + int(binary.LittleEndian.Uint32(b[off+4:]))
			}
			binary.LittleEndian.PutUint32(b[off+8:], 2)
			return b
		}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(tt.in)
			if err == nil {
				t.Fatal("ParseConfig accepted bad input")
			}
			if tt.version != errors.Is(err, ErrConfigVersion) {
				t.Fatalf("errors.Is(ErrConfigVersion) = %v for %v", !tt.version, err)
			}
		})
	}
}

func TestSchedulerRecord(t *testing.T) {
	plain, err := minimalConfig().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c := minimalConfig()
	c.Scheduler = SchedulerMN
	mn, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// record 29 (u32 1) appended to the plain encoding, nothing else changed
	want := append(append([]byte(nil), plain...), 29, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0)
	binary.LittleEndian.PutUint32(want[12:], uint32(len(want)-16))
	if !bytes.Equal(mn, want) {
		t.Fatalf("mn encoding is not the plain one plus record 29")
	}
	for _, tt := range []struct {
		name string
		v    uint32
	}{{"default scheduler recorded", 0}, {"unknown scheduler", 2}} {
		t.Run(tt.name, func(t *testing.T) {
			b := append([]byte(nil), mn...)
			binary.LittleEndian.PutUint32(b[len(b)-4:], tt.v)
			if _, err := ParseConfig(b); err == nil {
				t.Fatal("ParseConfig accepted scheduler", tt.v)
			}
		})
	}
}

func TestParseScheduler(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Scheduler
		ok   bool
	}{{"", SchedulerOS, true}, {"os", SchedulerOS, true}, {"mn", SchedulerMN, true}, {"MN", SchedulerOS, false}, {"m:n", SchedulerOS, false}} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseScheduler(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseScheduler(%q) = %v, %v", tt.in, got, err)
			}
			if tt.ok && tt.in != "" && got.String() != tt.in {
				t.Fatalf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	good, _ := fixtureConfig().MarshalBinary()
	minb, _ := minimalConfig().MarshalBinary()
	f.Add(good)
	f.Add(minb)
	casb, _ := casFixtureConfig().MarshalBinary()
	f.Add(casb)
	f.Add([]byte("SCONECFG\x01\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b)
		if err != nil {
			return
		}
		// canonical: whatever parses re-encodes to the same bytes
		out, err := c.MarshalBinary()
		if err != nil {
			t.Fatalf("parsed config does not marshal: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("non-canonical input accepted")
		}
	})
}
