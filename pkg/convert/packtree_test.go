package convert

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/scone-build/scone-build/pkg/fsprotect"
	"github.com/scone-build/scone-build/pkg/rewrite"
	"github.com/scone-build/scone-build/pkg/rootfs"
)

func rnd(seed uint64, n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	b := make([]byte, n)
	r.Read(b)
	return b
}

// allTypesImage has every entry type, hard links, empty and multi-chunk
// files, xattrs, and files deleted or replaced by a later layer.
func allTypesImage(t *testing.T) v1.Image {
	t.Helper()
	mt := time.Unix(1600000000, 0)
	layers := [][]*tar.Header{
		{
			{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "bin/sh", Typeflag: tar.TypeReg, Mode: 0o4755, Size: 3*4096 + 17, PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00", "SCHILY.xattr.user.a": "b"}},
			{Name: "bin/ash", Typeflag: tar.TypeLink, Linkname: "bin/sh"},
			{Name: "bin/bb", Typeflag: tar.TypeSymlink, Linkname: "sh", Mode: 0o777},
			{Name: "etc/empty", Typeflag: tar.TypeReg, Mode: 0o644},
			{Name: "etc/big", Typeflag: tar.TypeReg, Mode: 0o644, Size: 700<<10 + 3, Uid: 1000, Gid: 1001},
			{Name: "etc/big2", Typeflag: tar.TypeLink, Linkname: "etc/big"},
			{Name: "etc/gone", Typeflag: tar.TypeReg, Mode: 0o644, Size: 9000},
			{Name: "etc/replaced", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5000},
			{Name: "opq/old", Typeflag: tar.TypeReg, Mode: 0o644, Size: 4096},
			{Name: "dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
			{Name: "dev/sda", Typeflag: tar.TypeBlock, Mode: 0o660, Devmajor: 8},
			{Name: "run/fifo", Typeflag: tar.TypeFifo, Mode: 0o644},
			{Name: "usr/lib/dir/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 5, Gid: 6, PAXRecords: map[string]string{"SCHILY.xattr.user.dir": ""}},
			{Name: "usr/lib/abs", Typeflag: tar.TypeSymlink, Linkname: "/bin/sh"},
		},
		{
			{Name: "etc/.wh.gone", Typeflag: tar.TypeReg},
			{Name: "etc/replaced", Typeflag: tar.TypeReg, Mode: 0o600, Size: 4097},
			{Name: "opq/.wh..wh..opq", Typeflag: tar.TypeReg},
			{Name: "opq/new", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1},
			{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777},
		},
	}
	img := empty.Image
	seed := uint64(1)
	for _, hs := range layers {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range hs {
			h.ModTime = mt
			if len(h.PAXRecords) > 0 {
				h.Format = tar.FormatPAX
			}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatal(err)
			}
			if h.Size > 0 {
				seed++
				tw.Write(rnd(seed, int(h.Size)))
			}
		}
		tw.Close()
		img = appendLayer(t, img, buf.Bytes())
	}
	return img
}

// TestPackTreeMatchesPack: the FS image convert packs from the tree (with
// contents pre-encrypted during flattening under the image's salt source,
// deleted files included) is byte for byte the image Pack makes from the
// tree's tar stream with the same salt source; without one, PackTree and
// Pack derive the same salt from the tree.
func TestPackTreeMatchesPack(t *testing.T) {
	fixtures(t)
	ctx := context.Background()
	img := allTypesImage(t)
	ss, err := ImageSaltSource(img)
	if err != nil {
		t.Fatal(err)
	}
	salt := fsprotect.WithSaltSource(ss)
	cache, err := fsprotect.NewContentCache(fsKey, salt)
	if err != nil {
		t.Fatal(err)
	}
	obs := &collector{}
	tree, err := rootfs.Flatten(ctx, img, rootfs.WithFileObserver(obs))
	hooked := obs.files
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range hooked {
		if err := cache.Encrypt(f.name, f.content); err != nil {
			t.Fatal(err)
		}
	}
	if cache.Len() != 7 { // 5 in layer 1 (2 later deleted or replaced), 2 in layer 2
		t.Fatalf("hook offered %d contents, cache has %d", len(hooked), cache.Len())
	}
	var tarBuf bytes.Buffer
	if err := tree.WriteTar(&tarBuf); err != nil {
		t.Fatal(err)
	}
	tarBytes := tarBuf.Bytes()
	var want bytes.Buffer
	wsum, err := fsprotect.Pack(ctx, &want, bytes.NewReader(tarBytes), fsKey, salt)
	if err != nil {
		t.Fatal(err)
	}
	if wsum.Hardlinks != 2 || wsum.Devices != 2 || wsum.Fifos != 1 {
		t.Fatalf("test tree lacks entry types: %+v", wsum)
	}
	src := tree.Entries(nil)
	for _, c := range []*fsprotect.ContentCache{nil, cache} {
		var got bytes.Buffer
		gsum, err := fsprotect.PackTree(ctx, &got, src, fsKey, salt, fsprotect.WithContentCache(c))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) || gsum.Root != wsum.Root {
			t.Fatalf("PackTree (cache %v) differs from Pack of the tree's tar", c != nil)
		}
		// The hook's paths are the tree's: every content offered under
		// the name the tree packs it with comes from the cache. bin/sh is
		// the exception: its hard link bin/ash comes first in the tree,
		// and the content is bound to that first name.
		if want := tree.TotalSize() - (3*4096 + 17); c != nil && gsum.BytesCached != want {
			t.Fatalf("%d content bytes from the cache, want %d", gsum.BytesCached, want)
		}
	}
	// Salt from the tree: the tar file (streamed twice) and the tree
	// source agree.
	tarFile := filepath.Join(t.TempDir(), "tree.tar")
	if err := os.WriteFile(tarFile, tarBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	var fromTar, fromTree bytes.Buffer
	if _, err := fsprotect.PackTarFile(ctx, &fromTar, tarFile, fsKey); err != nil {
		t.Fatal(err)
	}
	if _, err := fsprotect.PackTree(ctx, &fromTree, src, fsKey); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fromTar.Bytes(), fromTree.Bytes()) || bytes.Equal(fromTar.Bytes(), want.Bytes()) {
		t.Fatal("the salt derived from the tree differs between Pack and PackTree, or equals the image's")
	}
}

// TestImageSaltSource: the salt source of an image depends on its layers
// only: the same layers (another config) give the same, one more layer
// another.
func TestImageSaltSource(t *testing.T) {
	img := allTypesImage(t)
	a, err := ImageSaltSource(img)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.Entrypoint = []string{"/bin/other"}
	img2, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ImageSaltSource(img2)
	var empty bytes.Buffer
	tar.NewWriter(&empty).Close()
	c, _ := ImageSaltSource(appendLayer(t, img, empty.Bytes()))
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatalf("salt source: same layers equal %v, one more layer differs %v", bytes.Equal(a, b), !bytes.Equal(a, c))
	}
}

// TestImageSourceMatchesTreeSource: an image source (FS image pre-encrypted
// while flattening, kept as parts, layer generated from the parts) gives the
// files and the image a tree source gives (FS image packed from the tree),
// with the salt of the image's layers given to the tree source; and an image
// source with the salt from the tree (WithFSTreeSalt) gives what a tree
// source gives by default (the BuildKit frontend's conversion of the same
// files).
func TestImageSourceMatchesTreeSource(t *testing.T) {
	fixtures(t)
	ctx := context.Background()
	src := busyboxImage(t, file{name: "srv/big", body: rnd(3, 1<<20+7)}, file{name: "srv/small", body: []byte("s")})
	tree, err := rootfs.Flatten(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := src.ConfigFile()
	d, _ := src.Digest()
	ss, err := ImageSaltSource(src)
	if err != nil {
		t.Fatal(err)
	}
	roots := map[string]string{}
	for _, tc := range []struct {
		name                string
		fromImage, fromTree []Option
	}{
		// The image dictionary of an image source with its layers' salt
		// is trained from its largest layer as it is read, a tree
		// source's from its tree: equal only without one.
		{"layer salt", []Option{WithFSDictionary(false)}, []Option{WithFSSaltSource(ss), WithFSDictionary(false)}},
		{"tree salt", []Option{WithFSTreeSalt()}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, rep, err := convertImage(ctx, src, opts(tc.fromImage...)...)
			if err != nil {
				t.Fatal(err)
			}
			roots[tc.name] = rep.FSRoot
			s := FromTree(tree, cf, "")
			s.digest = d.String() // as FromImage records it
			out, err := Build(ctx, s, opts(tc.fromTree...)...)
			if err != nil {
				t.Fatal(err)
			}
			got := readLayers(t, img)
			for _, f := range out.Image.Files() {
				if !bytes.Equal(got[f.Path[1:]], f.Data) {
					t.Fatalf("%s differs between the image and the tree source", f.Path)
				}
			}
			img2, err := out.Image.Image()
			if err != nil {
				t.Fatal(err)
			}
			d1, _ := img.Digest()
			d2, _ := img2.Digest()
			if d1 != d2 {
				t.Fatalf("image source gives %v, tree source %v", d1, d2)
			}
		})
	}
	if roots["layer salt"] == roots["tree salt"] {
		t.Fatal("the salt from the layers and from the tree give the same FS root")
	}
	if _, err := makeOptions(opts(WithFSTreeSalt(), WithFSSaltSource(ss))); err == nil {
		t.Fatal("WithFSTreeSalt with WithFSSaltSource accepted")
	}
}

// TestConvertPreEncrypts: an image source's contents are encrypted while
// the layer decompresses, under the salt of the image's layers and the paths
// of the tree, and the FS image uses all of it (a salt or path mismatch
// would silently re-encrypt everything: correct, but the pre-encryption
// lost).
func TestConvertPreEncrypts(t *testing.T) {
	fixtures(t)
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("pre-encryption needs a second core")
	}
	src := busyboxImage(t, file{name: "srv/big", body: rnd(5, 300<<10+1)}, file{name: "./srv/dot/./x", body: []byte("x")})
	_, rep, err := convertImage(context.Background(), src, opts(WithRewrite(false))...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.fsCached != rep.BytesIn || rep.BytesIn == 0 {
		t.Fatalf("%d of %d content bytes were encrypted ahead", rep.fsCached, rep.BytesIn)
	}
	// Rewritten programs (busybox) are new contents, encrypted when the
	// FS image is packed; all the rest was encrypted ahead.
	_, rep, err = convertImage(context.Background(), src, opts()...)
	if err != nil {
		t.Fatal(err)
	}
	rw, err := rewrite.Rewrite(busybox, rewrite.Options{})
	if err != nil || rw.Data == nil {
		t.Fatalf("busybox not rewritten: %v", err)
	}
	if rep.fsCached != rep.BytesIn-int64(len(rw.Data)) {
		t.Fatalf("with rewriting, %d of %d content bytes were encrypted ahead (rewritten busybox: %d)", rep.fsCached, rep.BytesIn, len(rw.Data))
	}
}

// collector is a rootfs.FileObserver that keeps what it sees.
type collector struct {
	mu    sync.Mutex
	files []offered
	done  []int
}

func (c *collector) File(layer int, name string, b []byte) {
	c.mu.Lock()
	c.files = append(c.files, offered{name, b})
	c.mu.Unlock()
}

func (c *collector) LayerDone(layer int) {
	c.mu.Lock()
	c.done = append(c.done, layer)
	c.mu.Unlock()
}

// TestConvertDictionary: by default the FS image is compressed against a
// dictionary, trained from the largest layer while it is read (an image
// source with its layers' salt) or from the tree; the image is smaller
// than without one, the same on every run, and still encrypted ahead.
func TestConvertDictionary(t *testing.T) {
	fixtures(t)
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("pre-encryption needs a second core")
	}
	ctx := context.Background()
	var text []byte
	for i := 0; len(text) < 600<<10; i++ {
		text = fmt.Appendf(text, "line %d: the enclave reads its protected file system chunk by chunk\n", i*7919%1000)
	}
	src := busyboxImage(t, file{name: "srv/log.txt", body: text})
	for _, tc := range []struct {
		name string
		opts []Option
	}{{"layers", []Option{WithRewrite(false)}}, {"tree", []Option{WithRewrite(false), WithFSTreeSalt()}}} {
		t.Run(tc.name, func(t *testing.T) {
			img, rep, err := convertImage(ctx, src, opts(tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			_, none, err := convertImage(ctx, src, opts(append(tc.opts, WithFSDictionary(false))...)...)
			if err != nil {
				t.Fatal(err)
			}
			if rep.FSDictionary == 0 || none.FSDictionary != 0 || rep.FSImageBytes >= none.FSImageBytes {
				t.Errorf("dictionary %d bytes: FS image %d bytes, %d without", rep.FSDictionary, rep.FSImageBytes, none.FSImageBytes)
			}
			if tc.name == "layers" && rep.fsCached != rep.BytesIn {
				t.Errorf("%d of %d content bytes were encrypted ahead", rep.fsCached, rep.BytesIn)
			}
			again, _, err := convertImage(ctx, src, opts(tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			d1, _ := img.Digest()
			d2, _ := again.Digest()
			if d1 != d2 {
				t.Errorf("two conversions differ: %s, %s", d1, d2)
			}
		})
	}
}
