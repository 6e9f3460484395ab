package console_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/scone-build/scone-build/internal/consoletest"
	"github.com/scone-build/scone-build/pkg/console"
	"github.com/scone-build/scone-build/pkg/fskey"
)

// The Go test writer (internal/consoletest) produces the C writer's bytes,
// so tests that make logs with it test what the runtime writes.
func TestGoWriterMatchesC(t *testing.T) {
	read := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "console", n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	kf, err := fskey.Parse(read("key.hex"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := console.DeriveKey(kf.Key)
	if err != nil {
		t.Fatal(err)
	}
	n := func(b byte) (v [16]byte) {
		copy(v[:], bytes.Repeat([]byte{b}, 16))
		return v
	}
	a := [32]byte(bytes.Repeat([]byte{0xaa}, 32))
	b := [32]byte(bytes.Repeat([]byte{0xbb}, 32))
	denied, err := consoletest.Whole(key, console.Stdout, consoletest.Root(a, n(0x31)), "result=DENIED\n")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(denied, read("denied.bin")) {
		t.Fatal("denied.bin differs")
	}
	granted, err := consoletest.Whole(key, console.Stdout, consoletest.Root(b, n(0x51)), "result=GRANTED\n")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(bytes.Clone(denied), granted...), read("splice-other-image.bin")) {
		t.Fatal("splice-other-image.bin differs")
	}
	// stdout.bin: the root's header first, interleaved children.
	a1 := consoletest.Root(a, n(0x11))
	c1 := a1.Child(n(0x21), 1)
	g := c1.Child(n(0x22), 1)
	g2 := a1.Child(n(0x23), 2).Child(n(0x24), 1)
	open := func(o consoletest.Origin) *consoletest.Session {
		s, err := consoletest.Open(key, console.Stdout, o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	root, sc1, sg, sg2 := open(a1), open(c1), open(g), open(g2)
	var out []byte
	for _, p := range [][]byte{
		root.Start(), root.Record([]byte("hello from the root\n"), false), sc1.Record([]byte("child 1\n"), false),
		root.Record([]byte("root again\n"), false), sg.Record([]byte("grandchild\n"), false), sg.Record(nil, true),
		sc1.Record(nil, true), sg2.Record([]byte("child of a child that wrote nothing here\n"), false), sg2.Record(nil, true),
		root.Record(nil, true),
	} {
		out = append(out, p...)
	}
	if !bytes.Equal(out, read("stdout.bin")) {
		t.Fatal("stdout.bin differs")
	}
}
