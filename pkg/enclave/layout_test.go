package enclave

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/enclave fixtures")

const fixtureDir = "../../testdata/enclave"

// sharedPageELF builds a synthetic ELF64 whose two PT_LOAD segments share a
// page (text ends and data starts inside page 0x11000).
func sharedPageELF() []byte {
	const size = 0x1180
	b := make([]byte, size)
	for i := 0x200; i < size; i++ {
		b[i] = byte(i*7 + i>>8)
	}
	le := binary.LittleEndian
	copy(b, "\x7fELF\x02\x01\x01")
	le.PutUint16(b[16:], 2)  // ET_EXEC
	le.PutUint16(b[18:], 62) // x86-64
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[24:], 0x10200) // entry
	le.PutUint64(b[32:], 64)      // phoff
	le.PutUint16(b[52:], 64)
	le.PutUint16(b[54:], 56)
	le.PutUint16(b[56:], 3)
	ph := func(i int, typ, flags uint32, off, vaddr, filesz, memsz uint64) {
		p := b[64+56*i:]
		le.PutUint32(p, typ)
		le.PutUint32(p[4:], flags)
		le.PutUint64(p[8:], off)
		le.PutUint64(p[16:], vaddr)
		le.PutUint64(p[24:], vaddr)
		le.PutUint64(p[32:], filesz)
		le.PutUint64(p[40:], memsz)
		le.PutUint64(p[48:], 0x1000)
	}
	ph(0, elfPTLoad, elfPFR|elfPFX, 0, 0x10000, 0x1100, 0x1100)
	ph(1, elfPTLoad, elfPFR|elfPFW, 0x1100, 0x11100, 0x80, 0x2000)
	ph(2, 0x6474e551, elfPFR|elfPFW, 0, 0, 0, 0) // PT_GNU_STACK, ignored
	return b
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	return b
}

// TestFixtures checks (and with -update writes) the fixtures the C test
// runtime/tests/test_sgxs.c compares against.
func TestFixtures(t *testing.T) {
	cfg, err := fixtureConfig().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		for name, data := range map[string][]byte{"config.bin": cfg, "shared.elf": sharedPageELF()} {
			if err := os.WriteFile(filepath.Join(fixtureDir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := readFixture(t, "config.bin"); !bytes.Equal(got, cfg) {
		t.Fatalf("testdata config.bin differs from fixtureConfig(); run go test -update")
	}
	defCfg, err := minimalConfig().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(filepath.Join(fixtureDir, "default.config.bin"), defCfg, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := readFixture(t, "default.config.bin"); !bytes.Equal(got, defCfg) {
		t.Fatalf("testdata default.config.bin differs from minimalConfig(); run go test -update")
	}
	for _, tc := range []struct {
		name, elf string
		cfg       []byte
	}{
		{"tiny", "tiny", cfg}, {"shared", "shared", cfg}, {"tiny.default", "tiny", defCfg},
	} {
		name := tc.name
		t.Run(name, func(t *testing.T) {
			elf := readFixture(t, tc.elf+".elf")
			m, err := Measure(bytes.NewReader(elf), tc.cfg)
			if err != nil {
				t.Fatalf("Measure: %v", err)
			}
			got := hex.EncodeToString(m.MRENCLAVE[:]) + "\n"
			hexFile := filepath.Join(fixtureDir, name+".mrenclave.hex")
			if *update {
				if err := os.WriteFile(hexFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := string(readFixture(t, name+".mrenclave.hex")); got != want {
				t.Fatalf("MRENCLAVE = %s, fixture says %s", got, want)
			}
			var buf bytes.Buffer
			if err := m.WriteSGXS(&buf); err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(buf.Bytes()) != m.MRENCLAVE {
				t.Fatal("sha256(WriteSGXS) != MRENCLAVE")
			}
			l := m.Layout
			wantLen := 64 * (1 + l.EADDs + l.EEXTENDs*5)
			if uint64(buf.Len()) != wantLen {
				t.Fatalf("stream is %d bytes, layout counts say %d", buf.Len(), wantLen)
			}
		})
	}
}

func TestLayoutAddresses(t *testing.T) {
	cfg, _ := fixtureConfig().MarshalBinary()
	m, err := Measure(bytes.NewReader(sharedPageELF()), cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := m.Layout
	// image: pages 0x10000, 0x11000 (shared), 0x12000, 0x13000 (bss) -> 4 pages
	want := Layout{
		ImageVaddr: 0x10000, ImageSize: 0x4000, Entry: 0x200,
		ConfigOff: 0x5000, ConfigPages: 1, HeapOff: 0x7000, HeapSize: 1 << 20, StackSize: 64 << 10, Threads: 2,
		ThreadOff: 0x107000, ThreadStride: 0x15000, StackRel: 0x1000, TCSRel: 0x11000, SSARel: 0x12000, TDRel: 0x14000,
		End: 0x107000 + 2*0x15000 + 0x1000, Size: 0x200000,
		EADDs: 4 + 1 + 256 + 2*(16+1+2+1), EEXTENDs: (4 + 1 + 2) * 16,
	}
	if l != want {
		t.Fatalf("layout\n got %+v\nwant %+v", l, want)
	}
	// the shared page carries both segments' bytes and R|W|X
	var buf bytes.Buffer
	if err := m.WriteSGXS(&buf); err != nil {
		t.Fatal(err)
	}
	s := buf.Bytes()
	rec := s[64+(64+16*320):] // second EADD: after ECREATE and page 0's EADD+16 EEXTENDs
	if string(rec[:4]) != "EADD" || binary.LittleEndian.Uint64(rec[8:]) != 0x1000 || binary.LittleEndian.Uint64(rec[16:]) != PageTypeReg|SecinfoR|SecinfoW|SecinfoX {
		t.Fatalf("shared page record: %x", rec[:24])
	}
	elf := sharedPageELF()
	page := make([]byte, 0, PageSize)
	for i := 0; i < 16; i++ {
		page = append(page, rec[64+i*320+64:64+i*320+320]...)
	}
	wantPage := make([]byte, PageSize)
	copy(wantPage, elf[0x1000:0x1180])
	if !bytes.Equal(page, wantPage) {
		t.Fatal("shared page contents differ from the file bytes of both segments")
	}
}

// TestMRENCLAVEChanges: changing any measured input changes MRENCLAVE,
// changing nothing does not.
func TestMRENCLAVEChanges(t *testing.T) {
	elf := readFixture(t, "tiny.elf")
	measure := func(t *testing.T, c *Config, elf []byte) [32]byte {
		t.Helper()
		b, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		m, err := Measure(bytes.NewReader(elf), b)
		if err != nil {
			t.Fatal(err)
		}
		return m.MRENCLAVE
	}
	base := measure(t, fixtureConfig(), elf)
	tests := []struct {
		name   string
		mod    func(c *Config)
		elf    func([]byte) []byte
		change bool
	}{
		{"nothing", func(c *Config) {}, nil, false},
		{"argv", func(c *Config) { c.Argv[2] = "8444" }, nil, true},
		{"env", func(c *Config) { c.Env[1] = "LANG=C" }, nil, true},
		{"host env", func(c *Config) { c.HostEnv = nil }, nil, true},
		{"host args", func(c *Config) { c.HostArgs = false }, nil, true},
		{"cwd", func(c *Config) { c.Cwd = "/" }, nil, true},
		{"uid", func(c *Config) { c.UID = 0 }, nil, true},
		{"gid", func(c *Config) { c.GID = 0 }, nil, true},
		{"heap size", func(c *Config) { c.HeapSize += PageSize }, nil, true},
		{"stack size", func(c *Config) { c.StackSize += PageSize }, nil, true},
		{"threads", func(c *Config) { c.MaxThreads = 3 }, nil, true},
		{"fs root", func(c *Config) { c.FSRoot[31] ^= 1 }, nil, true},
		{"console", func(c *Config) { c.ConsoleShield = false }, nil, true},
		{"tls ports", func(c *Config) { c.TLSPorts = []uint16{443} }, nil, true},
		{"tls cert", func(c *Config) { c.TLSCert = "/x.pem" }, nil, true},
		{"tls key", func(c *Config) { c.TLSKey = "/y.pem" }, nil, true},
		{"transport", func(c *Config) { c.Transport = TransportSync }, nil, true},
		{"exit cycles", func(c *Config) { c.ExitCycles = 9000 }, nil, true},
		{"entrypoint", func(c *Config) { c.Entrypoint = "/bin/sh" }, nil, true},
		{"interpreter", func(c *Config) { c.Interpreter = "" }, nil, true},
		{"libraries", func(c *Config) { c.Libraries = nil }, nil, true},
		{"volumes", func(c *Config) { c.Volumes = append(c.Volumes, "/tmp") }, nil, true},
		{"runtime code byte", func(c *Config) {}, func(b []byte) []byte { b[0x100] ^= 1; return b }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fixtureConfig()
			tt.mod(c)
			e := append([]byte(nil), elf...)
			if tt.elf != nil {
				e = tt.elf(e)
			}
			got := measure(t, c, e)
			if (got != base) != tt.change {
				t.Fatalf("MRENCLAVE changed = %v, want %v", got != base, tt.change)
			}
		})
	}
}

func TestMeasureRefuses(t *testing.T) {
	cfg, _ := fixtureConfig().MarshalBinary()
	good := sharedPageELF()
	mod := func(f func(b []byte)) []byte { b := append([]byte(nil), good...); f(b); return b }
	le := binary.LittleEndian
	tests := []struct {
		name string
		elf  []byte
		cfg  []byte
		want error
	}{
		{"not elf", []byte("hello world, this is not an ELF file at all, no no no no no no no"), cfg, ErrBadELF},
		{"empty", nil, cfg, ErrBadELF},
		{"32-bit", mod(func(b []byte) { b[4] = 1 }), cfg, ErrBadELF},
		{"arm64", mod(func(b []byte) { le.PutUint16(b[18:], 183) }), cfg, ErrBadELF},
		{"filesz beyond file", mod(func(b []byte) { le.PutUint64(b[64+56+32:], 0x1000); le.PutUint64(b[64+56+40:], 0x2000) }), cfg, ErrBadELF},
		{"overlapping segments", mod(func(b []byte) { le.PutUint64(b[64+56+16:], 0x10f00) }), cfg, ErrBadELF},
		{"filesz > memsz", mod(func(b []byte) { le.PutUint64(b[64+56+40:], 0x10) }), cfg, ErrBadELF},
		{"entry outside", mod(func(b []byte) { le.PutUint64(b[24:], 0x90000) }), cfg, ErrBadELF},
		{"phdrs beyond file", mod(func(b []byte) { le.PutUint16(b[56:], 200) }), cfg, ErrBadELF},
		{"bad config", good, []byte("SCONECFG"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Measure(bytes.NewReader(tt.elf), tt.cfg)
			if err == nil {
				t.Fatal("Measure accepted bad input")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "measuring enclave: ") {
				t.Fatalf("error %q lacks context", err)
			}
		})
	}
}

// FuzzMeasure fuzzes the ELF program-header parser and the layout. Inputs
// whose image spans more than 1 MiB are only parsed, not hashed, to keep
// each run fast.
func FuzzMeasure(f *testing.F) {
	cfg, _ := fixtureConfig().MarshalBinary()
	f.Add(sharedPageELF())
	if b, err := os.ReadFile(filepath.Join(fixtureDir, "tiny.elf")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, elf []byte) {
		img, err := parseELF(bytes.NewReader(elf))
		if err != nil {
			if !errors.Is(err, ErrBadELF) {
				t.Fatalf("error %v does not wrap ErrBadELF", err)
			}
			return
		}
		if img.hi-img.lo > 1<<20 {
			return
		}
		m, err := Measure(bytes.NewReader(elf), cfg)
		if err != nil {
			t.Fatalf("parsed ELF does not measure: %v", err)
		}
		var buf bytes.Buffer
		if err := m.WriteSGXS(&buf); err != nil || sha256.Sum256(buf.Bytes()) != m.MRENCLAVE {
			t.Fatalf("stream does not hash to MRENCLAVE (err %v)", err)
		}
	})
}

func BenchmarkMeasureDefault(b *testing.B) {
	elf, err := os.ReadFile(filepath.Join(fixtureDir, "tiny.elf"))
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := minimalConfig().MarshalBinary() // 64 MiB heap, 8 x 8 MiB stacks
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		if _, err := Measure(bytes.NewReader(elf), cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRealRuntime measures the real scone-run when `make runtime` has built
// it, and prints MRENCLAVE and the layout for comparison with the C side.
func TestRealRuntime(t *testing.T) {
	elf, err := os.ReadFile("../runtimebin/bin/scone-run")
	if err != nil {
		t.Skipf("skipping: runtime not built (%v)", err)
	}
	cfg, err := minimalConfig().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Measure(bytes.NewReader(elf), cfg)
	if err != nil {
		t.Fatalf("measuring the real runtime: %v", err)
	}
	t.Logf("scone-run %d bytes, default config: MRENCLAVE %x, image %#x bytes, size %#x, %d EADD, %d EEXTEND",
		len(elf), m.MRENCLAVE, m.Layout.ImageSize, m.Layout.Size, m.Layout.EADDs, m.Layout.EEXTENDs)
}

func BenchmarkSign(b *testing.B) {
	s := testSigner(b)
	ss, _ := NewSigStruct([32]byte{1})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ss.Sign(context.Background(), s); err != nil {
			b.Fatal(err)
		}
	}
}
