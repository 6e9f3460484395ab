package rewrite

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// FuzzParseEHFrame: never panics; every range is non-empty and does not
// wrap.
func FuzzParseEHFrame(f *testing.F) {
	// A CIE (version 1, "zR", pcrel|sdata4) and one FDE.
	cie := []byte{0x14, 0, 0, 0, 0, 0, 0, 0, 1, 'z', 'R', 0, 1, 0x78, 0x10, 1, 0x1b, 0x0c, 7, 8, 0x90, 1, 0, 0}
	fde := make([]byte, 0, 24)
	fde = binary.LittleEndian.AppendUint32(fde, 20)
	fde = binary.LittleEndian.AppendUint32(fde, uint32(len(cie)+4))
	fde = binary.LittleEndian.AppendUint32(fde, 0x100)
	fde = binary.LittleEndian.AppendUint32(fde, 0x40)
	fde = append(fde, 0, 0, 0, 0, 0, 0, 0, 0)
	f.Add(append(append([]byte{}, cie...), fde...), uint64(0x1000))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2}, uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, addr uint64) {
		rs, err := ParseEHFrame(b, addr)
		if err != nil {
			return
		}
		for _, r := range rs {
			if r.Size == 0 || r.Start+r.Size <= r.Start {
				t.Fatalf("bad range %+v", r)
			}
		}
	})
}

func TestParseEHFrameSeed(t *testing.T) {
	cie := []byte{0x14, 0, 0, 0, 0, 0, 0, 0, 1, 'z', 'R', 0, 1, 0x78, 0x10, 1, 0x1b, 0x0c, 7, 8, 0x90, 1, 0, 0}
	fde := binary.LittleEndian.AppendUint32(nil, 20)
	fde = binary.LittleEndian.AppendUint32(fde, uint32(len(cie)+4))
	fde = binary.LittleEndian.AppendUint32(fde, 0x100)
	fde = binary.LittleEndian.AppendUint32(fde, 0x40)
	fde = append(fde, 0, 0, 0, 0, 0, 0, 0, 0)
	rs, err := ParseEHFrame(append(cie, fde...), 0x1000)
	if err != nil {
		t.Fatal(err)
	}
	// pc_begin is pc-relative to its own field: 0x1000 + 24 + 8 + 0x100.
	if len(rs) != 1 || rs[0].Start != 0x1000+uint64(len(cie))+8+0x100 || rs[0].Size != 0x40 {
		t.Fatalf("%+v", rs)
	}
	if _, err := ParseEHFrame(append(cie[:len(cie)-2], fde...), 0); err == nil {
		t.Fatal("FDE with a wrong CIE pointer accepted")
	}
}

// FuzzRewrite: arbitrary input never panics; a rewritten result parses and
// rewriting it again says so.
func FuzzRewrite(f *testing.F) {
	// A small program (tiny code: many executions per second), assembled
	// when gcc is there, and the corpus in testdata/fuzz.
	if _, err := exec.LookPath("gcc"); err == nil {
		dir := f.TempDir()
		src, out := filepath.Join(dir, "p.s"), filepath.Join(dir, "p")
		os.WriteFile(src, []byte(exitProg), 0o644)
		if exec.Command("gcc", "-o", out, src, "-nostdlib", "-static", "-no-pie", "-s", "-Wl,--build-id=none").Run() == nil {
			if b, err := os.ReadFile(out); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Rewrite(b, Options{})
		if err != nil || r.Data == nil {
			return
		}
		r2, err := Rewrite(r.Data, Options{})
		if err != nil || !r2.Already {
			t.Fatalf("rewritten file: %v, %+v", err, r2)
		}
	})
}

// Real-system binaries: the eh_frame of each parses.
func TestParseEHFrameSystem(t *testing.T) {
	for _, p := range []string{"/bin/true", "/lib64/ld-linux-x86-64.so.2"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		r, err := Rewrite(b, Options{DryRun: true})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		t.Logf("%s: %d sites, %d rewritable", p, len(r.Sites), r.Rewritten)
	}
}
