package rootfs

import (
	"archive/tar"
	"bytes"
	"testing"
)

func FuzzFromTar(f *testing.F) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "a/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "a/f", Typeflag: tar.TypeReg, Size: 3, Mode: 0o644},
		{Name: "a/l", Typeflag: tar.TypeSymlink, Linkname: "f"},
		{Name: "a/h", Typeflag: tar.TypeLink, Linkname: "a/f"},
		{Name: "a/.wh.l", Typeflag: tar.TypeReg},
		{Name: ".wh..wh..opq", Typeflag: tar.TypeReg},
	} {
		tw.WriteHeader(h)
		if h.Size > 0 {
			tw.Write([]byte("abc"))
		}
	}
	tw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tree, err := FromTar(bytes.NewReader(b))
		if err != nil {
			return
		}
		// Whatever was accepted must serialise and resolve without failing.
		var out bytes.Buffer
		if err := tree.WriteTar(&out); err != nil {
			t.Fatalf("WriteTar of an accepted tree: %v", err)
		}
		for _, n := range tree.Names() {
			tree.Resolve(n, true)
		}
	})
}
