package fsprotect

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestTamperedReadLeavesBuffer is the Go side of security finding 8c (the C
// side is tampered_reads in runtime/tests/test_fsp.c): a read that meets a
// tampered chunk returns the authentic chunks before it and leaves the rest
// of the caller's buffer as it was: no unauthenticated plaintext, not even
// wiped bytes.
func TestTamperedReadLeavesBuffer(t *testing.T) {
	want, err := openVector(t, "ok.img").ReadFile("bin/two-chunks")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		image     string
		off, n    int
		authentic int
	}{
		{"chunk0.img", 0, 4096, 0},
		{"chunk0.img", 0, 4196, 0},
		{"chunk0.img", 10, 100, 0},
		{"chunk.img", 4096, 100, 0},
		{"chunk.img", 0, 4196, 4096},
		{"chunk.img", 4000, 196, 96},
	} {
		for _, prefix := range []string{"", "v2-"} {
			rd := openVector(t, prefix+tc.image)
			f, err := rd.Open("bin/two-chunks")
			if err != nil {
				t.Fatal(err)
			}
			buf := bytes.Repeat([]byte{0xA5}, 8192)
			n, err := f.(io.ReaderAt).ReadAt(buf[:tc.n], int64(tc.off))
			var ae *AuthError
			if !errors.As(err, &ae) || n != tc.authentic {
				t.Errorf("%s%s ReadAt(%d, %d) = %d, %v; want %d and an *AuthError", prefix, tc.image, tc.off, tc.n, n, err, tc.authentic)
			}
			if !bytes.Equal(buf[:n], want[tc.off:tc.off+n]) {
				t.Errorf("%s%s: the authentic part differs", prefix, tc.image)
			}
			for i := n; i < len(buf); i++ {
				if buf[i] != 0xA5 {
					t.Errorf("%s%s ReadAt(%d, %d): byte %d of the buffer changed", prefix, tc.image, tc.off, tc.n, i)
					break
				}
			}
		}
	}
}

func openVector(t *testing.T, name string) *Reader {
	t.Helper()
	img, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return openBytes(t, img, vectorKey)
}
