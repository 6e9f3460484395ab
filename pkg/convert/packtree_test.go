package convert

import (
	"archive/tar"
	"bytes"
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"

	"github.com/scone-build/scone-build/pkg/fsprotect"
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
// contents pre-encrypted during flattening, deleted files included) is byte
// for byte the image Pack makes from the tree's tar stream.
func TestPackTreeMatchesPack(t *testing.T) {
	fixtures(t)
	ctx := context.Background()
	img := allTypesImage(t)
	cache, err := fsprotect.NewContentCache(fsKey)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var offered [][]byte
	tree, err := rootfs.Flatten(ctx, img, rootfs.WithFileHook(func(b []byte) {
		mu.Lock()
		offered = append(offered, b)
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range offered {
		if err := cache.Encrypt(b); err != nil {
			t.Fatal(err)
		}
	}
	if cache.Len() != 7 { // 5 in layer 1 (2 later deleted or replaced), 2 in layer 2
		t.Fatalf("hook offered %d contents, cache has %d", len(offered), cache.Len())
	}
	var tarBuf bytes.Buffer
	if err := tree.WriteTar(&tarBuf); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	wsum, err := fsprotect.Pack(ctx, &want, &tarBuf, fsKey)
	if err != nil {
		t.Fatal(err)
	}
	if wsum.Hardlinks != 2 || wsum.Devices != 2 || wsum.Fifos != 1 {
		t.Fatalf("test tree lacks entry types: %+v", wsum)
	}
	src := &treeSource{tree: tree, total: tree.TotalSize(), f: func(Progress) {}}
	for _, c := range []*fsprotect.ContentCache{nil, cache} {
		var got bytes.Buffer
		gsum, err := fsprotect.PackTree(ctx, &got, src, fsKey, fsprotect.WithContentCache(c))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) || gsum.Root != wsum.Root {
			t.Fatalf("PackTree (cache %v) differs from Pack of the tree's tar", c != nil)
		}
	}
}

// TestImageSourceMatchesTreeSource: an image source (FS image pre-encrypted
// while flattening, kept as parts, layer generated from the parts) gives the
// files and the image a tree source gives (FS image packed from the tree).
func TestImageSourceMatchesTreeSource(t *testing.T) {
	fixtures(t)
	ctx := context.Background()
	src := busyboxImage(t, file{name: "srv/big", body: rnd(3, 1<<20+7)}, file{name: "srv/small", body: []byte("s")})
	img, _, err := convertImage(ctx, src, opts()...)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := rootfs.Flatten(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := src.ConfigFile()
	d, _ := src.Digest()
	s := FromTree(tree, cf, "")
	s.digest = d.String() // as FromImage records it
	out, err := Build(ctx, s, opts()...)
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
}
