package fsprotect

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func TestRoundTrip(t *testing.T) {
	tree := fullTree()
	for _, cs := range []int{MinChunkSize, 1 << 14, DefaultChunkSize} {
		t.Run(fmtSize(cs), func(t *testing.T) {
			img, sum := packBytes(t, makeTar(t, tree), testKey, WithChunkSize(cs))
			if sum.Files != 9 || sum.Hardlinks != 1 || sum.Symlinks != 3-1+0 || sum.Devices != 2 || sum.Fifos != 1 {
				t.Errorf("summary counts = %+v", sum)
			}
			if sum.BytesOut != int64(len(img)) {
				t.Errorf("BytesOut = %d, image is %d", sum.BytesOut, len(img))
			}
			rd := openBytes(t, img, testKey, WithExpectedRoot(sum.Root))
			if rd.Root() != sum.Root {
				t.Fatal("root differs")
			}
			for _, e := range tree {
				name := strings.TrimSuffix(strings.TrimPrefix(e.name, "./"), "/")
				if name == "" {
					name = "."
				}
				t.Run(name, func(t *testing.T) {
					fi, err := rd.Lstat(name)
					if err != nil {
						t.Fatal(err)
					}
					st := fi.Sys().(*Stat)
					if e.typ != tar.TypeLink && e.typ != tar.TypeSymlink && st.Mode&0o7777 != uint32(e.mode) {
						t.Errorf("mode %o, want %o", st.Mode&0o7777, e.mode)
					}
					if e.typ != tar.TypeLink && (st.UID != uint32(e.uid) || st.GID != uint32(e.gid)) {
						t.Errorf("owner %d:%d", st.UID, st.GID)
					}
					if e.typ != tar.TypeLink && st.Mtime.UnixNano() != 1700000000123456789 {
						t.Errorf("mtime %v", st.Mtime)
					}
					for k, v := range e.xattrs {
						if st.Xattrs[k] != v {
							t.Errorf("xattr %q = %q, want %q", k, st.Xattrs[k], v)
						}
					}
					switch e.typ {
					case tar.TypeReg:
						got, err := rd.ReadFile(name)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(got, e.body) {
							t.Errorf("content differs (%d vs %d bytes)", len(got), len(e.body))
						}
						checkRanges(t, rd, name, e.body)
					case tar.TypeSymlink:
						tg, err := rd.ReadLink(name)
						if err != nil || tg != e.link {
							t.Errorf("ReadLink = %q, %v", tg, err)
						}
					case tar.TypeLink:
						a, _ := rd.Lstat(e.link)
						if a.Sys().(*Stat).Ino != st.Ino || st.Nlink != 2 {
							t.Errorf("hard link: ino %d vs %d, nlink %d", st.Ino, a.Sys().(*Stat).Ino, st.Nlink)
						}
					case tar.TypeChar, tar.TypeBlock:
						if st.DevMajor != uint32(e.major) || st.DevMinor != uint32(e.minor) {
							t.Errorf("device %d:%d", st.DevMajor, st.DevMinor)
						}
					case tar.TypeDir:
						if !fi.IsDir() {
							t.Error("not a dir")
						}
					}
				})
			}
			// Symlinks are followed by Open/Stat.
			if b, err := rd.ReadFile("usr/lib/abs"); err != nil || !bytes.Equal(b, tree[2].body) {
				t.Errorf("read through absolute symlink: %v", err)
			}
			if b, err := rd.ReadFile("bin/busybox"); err != nil || !bytes.Equal(b, tree[2].body) {
				t.Errorf("read through relative symlink: %v", err)
			}
			for sub, want := range map[string][]string{"bin": {"sh", "ash", "busybox"}, "etc": {"empty", "exact", "one"}, "usr": {"lib/abs", "share/ünïcødé/日本語.txt"}} {
				sfs, err := fs.Sub(rd, sub)
				if err != nil {
					t.Fatal(err)
				}
				if err := fstest.TestFS(sfs, want...); err != nil {
					t.Errorf("%s: %.2000s", sub, err)
				}
			}
			if err := Verify(bytes.NewReader(img), int64(len(img)), testKey); err != nil {
				t.Errorf("Verify: %v", err)
			}
			root, err := RootOf(bytes.NewReader(img), int64(len(img)))
			if err != nil || root != sum.Root {
				t.Errorf("RootOf = %x, %v; want %x", root, err, sum.Root)
			}
		})
	}
}

func fmtSize(n int) string { return itoa(n/1024) + "KiB" }

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// checkRanges reads assorted ranges through ReadAt, Read and Seek.
func checkRanges(t *testing.T, rd *Reader, name string, want []byte) {
	t.Helper()
	f, err := rd.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ra := f.(io.ReaderAt)
	n := len(want)
	for _, r := range [][2]int{{0, 1}, {0, n}, {n / 2, n / 3}, {4095, 2}, {4096, 4096}, {n - 1, 5}, {n, 1}, {n + 10, 1}} {
		off, l := r[0], r[1]
		if off < 0 {
			continue
		}
		buf := make([]byte, l)
		got, err := ra.ReadAt(buf, int64(off))
		wantN := max(0, min(l, n-off))
		if got != wantN || (wantN < l && err != io.EOF) || (wantN == l && err != nil) {
			t.Errorf("ReadAt(%d, %d) = %d, %v; want %d", off, l, got, err, wantN)
			continue
		}
		if wantN > 0 && !bytes.Equal(buf[:got], want[off:off+got]) {
			t.Errorf("ReadAt(%d, %d): content differs", off, l)
		}
	}
	// small sequential reads
	if _, err := f.(io.Seeker).Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	buf := make([]byte, 1000)
	for {
		k, err := f.Read(buf)
		got.Write(buf[:k])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("sequential Read differs")
	}
	if _, err := fs.ReadFile(rd, name); err != nil {
		t.Error(err)
	}
}

// TestConcurrentReadAt reads one file from several goroutines at once,
// with reads large enough to take the parallel decryption path.
func TestConcurrentReadAt(t *testing.T) {
	body := pseudoRandom(21, 600<<10+123)
	img, _ := packBytes(t, makeTar(t, []tentry{{name: "f", typ: tar.TypeReg, mode: 0o644, body: body}}), testKey, WithChunkSize(MinChunkSize))
	rd := openBytes(t, img, testKey)
	f, err := rd.Open("f")
	if err != nil {
		t.Fatal(err)
	}
	ra := f.(io.ReaderAt)
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			buf := make([]byte, 300<<10)
			for k := range 8 {
				off := int64((g*8+k)*7919) % int64(len(body)-len(buf))
				n, err := ra.ReadAt(buf, off)
				if err != nil || n != len(buf) || !bytes.Equal(buf, body[off:off+int64(n)]) {
					errs <- fmt.Errorf("ReadAt(%d) = %d, %v", off, n, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r *bytes.Reader
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// TestRandomAccessReadsLittle: Open reads the preamble, header and index
// only; a 4 KiB read reads the one or two chunks it needs.
func TestRandomAccessReadsLittle(t *testing.T) {
	body := pseudoRandom(5, 1<<20)
	img, _ := packBytes(t, makeTar(t, []tentry{{name: "f", typ: tar.TypeReg, mode: 0o644, body: body}}), testKey)
	cr := &countingReaderAt{r: bytes.NewReader(img)}
	rd, err := Open(cr, int64(len(img)), testKey)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(PreambleSize + HeaderSize + rd.hdr.indexLen); cr.n != want {
		t.Errorf("Open read %d bytes, want %d", cr.n, want)
	}
	f, _ := rd.Open("f")
	buf := make([]byte, 4096)
	for _, tc := range []struct {
		off   int64
		bytes int64
	}{{0, 4096}, {123 * 4096, 4096}, {5000, 8192}} {
		cr.n = 0
		if _, err := f.(io.ReaderAt).ReadAt(buf, tc.off); err != nil || !bytes.Equal(buf, body[tc.off:tc.off+4096]) {
			t.Fatalf("ReadAt(%d): %v", tc.off, err)
		}
		if cr.n != tc.bytes {
			t.Errorf("ReadAt(%d) read %d image bytes, want %d", tc.off, cr.n, tc.bytes)
		}
	}
}
