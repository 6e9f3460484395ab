package volume

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scone-build/scone-build/pkg/fskey"
)

var update = flag.Bool("update", false, "rewrite testdata/volume from the generator")

const vectorDir = "../../testdata/volume"

var (
	vectorKey   = Key(mustHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"))
	vectorFSKey = fskey.Key(mustHex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"))
	vectorID    = [16]byte{0x5c, 0x0e, 0x7e, 0x01}
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func vectorClock() func() time.Time {
	t := time.Unix(1700000000, 500)
	return func() time.Time { t = t.Add(time.Second); return t }
}

// genVolume writes the "ok" volume into dir and returns the manifest lines
// that need its ids and offsets.
func genVolume(t testing.TB, dir string) []string {
	v, err := Create(dir, vectorKey, WithVolumeID(vectorID), WithClock(vectorClock()), WithMountPath("/data"),
		WithCheckpointSize(1<<40))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(v.WriteFile("empty", nil, 0o644))
	must(v.WriteFile("small", []byte("hello, volume\n"), 0o644))
	must(v.WriteFile("page", pattern(5, PageSize), 0o644))
	must(v.WriteFile("multi", pattern(6, 3*PageSize+100), 0o640))
	must(v.Mkdir("dir", 0o755))
	must(v.Mkdir("dir/sub", 0o700))
	must(v.WriteFile("dir/sub/deep.txt", []byte("deep\n"), 0o600))
	must(v.Chown("dir/sub/deep.txt", 1000, 1001))
	must(v.WriteFile("sparse", nil, 0o644))
	must(v.WriteAt("sparse", pattern(7, 100), 0))
	must(v.WriteAt("sparse", pattern(8, PageSize), 260*PageSize))
	must(v.Truncate("sparse", 261*PageSize-10))
	must(v.Symlink("dir/deep.txt", "link"))
	must(v.Symlink("/data/small", "abs"))
	must(v.Link("small", "hard"))
	must(v.WriteFile("gone", []byte("removed later"), 0o644))
	must(v.Checkpoint())
	// After the snapshot: commits in the log.
	must(v.WriteAt("multi", []byte("REWRITTEN"), PageSize+10))
	must(v.Remove("gone"))
	must(v.Commit(true))
	must(v.WriteAt("small", []byte("H"), 0))
	must(v.Rename("dir/sub/deep.txt", "dir/deep.txt"))
	must(v.Commit(false))
	must(v.Close())
	ver, root := v.Root()
	ids := map[string]uint64{}
	for _, n := range []string{"small", "multi", "sparse"} {
		nd, err := v.lookup("x", n, false)
		must(err)
		ids[n] = nd.id
	}
	// The tail of an interrupted commit: a PAGE record no commit lists and
	// a COMMIT record cut short.
	lf := filepath.Join(dir, logName(v.gen))
	lb, err := os.ReadFile(lf)
	must(err)
	var recs []logRec
	for off := int64(0); off < int64(len(lb)); {
		n := int64(le.Uint64(lb[off+8:]))
		recs = append(recs, logRec{off, le.Uint32(lb[off+4:]), n})
		off += recHdrSize + n
	}
	tail := make([]byte, recHdrSize+PageSize+recHdrSize+20)
	copy(tail, recMagic)
	le.PutUint32(tail[4:], recPage)
	le.PutUint64(tail[8:], PageSize)
	copy(tail[recHdrSize+PageSize:], recMagic)
	le.PutUint32(tail[recHdrSize+PageSize+4:], recCommit)
	le.PutUint64(tail[recHdrSize+PageSize+8:], 200)
	must(os.WriteFile(lf, append(lb, tail...), 0o600))
	var firstCommit, lastCommit logRec
	for _, r := range recs {
		if r.typ == recCommit {
			if firstCommit.n == 0 {
				firstCommit = r
			}
			lastCommit = r
		}
	}
	metaF, logF := metaName(v.gen), logName(v.gen)
	return []string{
		fmt.Sprintf("# ok: version %d, snapshot %s, log %s; ids small=%d multi=%d sparse=%d", ver, metaF, logF, ids["small"], ids["multi"], ids["sparse"]),
		fmt.Sprintf("!version %d %x", ver, root),
		fmt.Sprintf("!flip-data-in-place %s %d", pageName(ids["sparse"]), dataPos(260)*PageSize+9),
		fmt.Sprintf("!flip-tag %s %d", pageName(ids["sparse"]), nodePos(1, 1)*PageSize+9),
		fmt.Sprintf("!flip-log-page %s %d", logF, recs[0].off+recHdrSize+50),
		fmt.Sprintf("!cut-file %s %d", pageName(ids["multi"]), dataPos(2)*PageSize),
		fmt.Sprintf("!remove-file %s", pageName(ids["sparse"])),
		fmt.Sprintf("!flip-snapshot %s %d", metaF, snapHdrSize+30),
		fmt.Sprintf("!flip-first-commit %s %d", logF, firstCommit.off+recHdrSize+commitHdrSize+3),
		fmt.Sprintf("!cut-last-commit %s %d", logF, lastCommit.off),
		fmt.Sprintf("!meta %s", metaF),
		fmt.Sprintf("!log %s", logF),
	}
}

// genVectors writes every vector volume under root and returns the manifest.
func genVectors(t testing.TB, root string) string {
	lines := genVolume(t, filepath.Join(root, "ok"))
	v, err := Create(filepath.Join(root, "empty"), vectorKey, WithVolumeID([16]byte{0x5c, 0x0e, 0x7e, 0x02}),
		WithClock(vectorClock()), WithMountPath("/var/lib/db"), WithOwner(999, 999))
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	kv := map[string]string{}
	for _, l := range lines {
		if f := strings.Fields(l); strings.HasPrefix(l, "!") {
			kv[f[0][1:]] = strings.Join(f[1:], " ")
		}
	}
	okFiles := func(ver string) string {
		return "version " + ver + `
file empty 0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
file small 14 ` + sha("Hello, volume\n") + `
file hard 14 ` + sha("Hello, volume\n") + `
file abs 14 ` + sha("Hello, volume\n") + `
file page 4096 ` + sha(string(pattern(5, PageSize))) + `
file multi 12388 ` + sha(setBytes(string(pattern(6, 3*PageSize+100)), PageSize+10, []byte("REWRITTEN"))) + `
file dir/deep.txt 5 ` + sha("deep\n") + `
file link 5 ` + sha("deep\n") + `
file sparse 1069046 ` + sha(setBytes(string(pattern(7, 100))+string(make([]byte, 260*PageSize-100)), 260*PageSize, pattern(8, PageSize-10))) + `
dir . abs dir empty hard link multi page small sparse
dir dir deep.txt sub
dir dir/sub
symlink link dir/deep.txt
symlink abs /data/small
stat small 100644 0 0 2
stat multi 100640 0 0 1
stat dir 40755 0 0 3
stat dir/sub 40700 0 0 2
stat dir/deep.txt 100600 1000 1001 1
stat link 120777 0 0 1
`
	}
	ver := strings.Fields(kv["version"])
	prev, _ := strconv.Atoi(ver[0])
	var m strings.Builder
	fmt.Fprintf(&m, "# Generated by pkg/volume TestVectors -update. Format: testdata/volume/README.md\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "#") {
			fmt.Fprintln(&m, l)
		}
	}
	key := hex.EncodeToString(vectorKey[:])
	other := strings.Repeat("ee", 32)
	fmt.Fprintf(&m, `
derive %x /data %x
derive %x /var/lib/db %x
keystream %s %s 40 %s
keystream %s %s 70 %s

case ok
volume ok %s
open ok
version %s
%s
case ok-wrong-key
volume ok %s
open key

case empty
volume empty %s
open ok
version 0 00000000000000000000000000000000
dir .
stat . 40755 999 999 2

case data-page-flipped
volume ok %s
flip %s
open ok
fileerr sparse page
file small 14 %s

case tag-page-flipped
volume ok %s
flip %s
open ok
fileerr sparse tag
file multi 12388

case log-page-flipped
volume ok %s
flip %s
open ok
fileerr multi page
file small 14 %s

case file-truncated
volume ok %s
cut %s
open ok
fileerr multi missing
file page 4096

case file-removed
volume ok %s
remove %s
open ok
fileerr sparse missing
file small 14

case snapshot-flipped
volume ok %s
flip %s
open snapshot

case header-flipped
volume ok %s
flip volume 66
open header

case header-key-check
volume ok %s
flip volume 33
open key

case header-version
volume ok %s
flip volume 8
open version

case first-commit-flipped
volume ok %s
flip %s
open log

case last-commit-cut
volume ok %s
cut %s
open ok
version %d
file small 14 %s

case not-a-volume
volume ok %s
remove volume
open notvolume
`,
		vectorFSKey[:], mustDerive(vectorFSKey, "/data"), vectorFSKey[:], mustDerive(vectorFSKey, "/var/lib/db"),
		key, "00112233445566778899aabbfffffffe", ks(vectorKey, "00112233445566778899aabbfffffffe", 40),
		key, "0102030405060708090a0b0c00000007", ks(vectorKey, "0102030405060708090a0b0c00000007", 70),
		key, kv["version"], okFiles(ver[0])[len("version "+ver[0]+"\n"):],
		other,
		key,
		key, kv["flip-data-in-place"], sha("Hello, volume\n"),
		key, kv["flip-tag"],
		key, kv["flip-log-page"], sha("Hello, volume\n"),
		key, kv["cut-file"],
		key, kv["remove-file"],
		key, kv["flip-snapshot"],
		key, key, key,
		key, kv["flip-first-commit"],
		key, kv["cut-last-commit"], prev-1, sha("hello, volume\n"),
		key,
	)
	return m.String()
}

func sha(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func mustDerive(k fskey.Key, p string) []byte {
	v, err := DeriveKey(k, p)
	if err != nil {
		panic(err)
	}
	return v[:]
}

func ks(k Key, iv string, n int) string {
	kk, err := newKeys(k)
	if err != nil {
		panic(err)
	}
	out := make([]byte, n)
	kk.keystream([16]byte(mustHex(iv)), out, make([]byte, n))
	return hex.EncodeToString(out)
}

// TestVectors regenerates testdata/volume in a temporary directory and
// compares it byte for byte (-update rewrites it), then runs the manifest.
func TestVectors(t *testing.T) {
	tmp := t.TempDir()
	manifest := genVectors(t, tmp)
	if err := os.WriteFile(filepath.Join(tmp, "vectors.txt"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if *update {
		for _, d := range []string{"ok", "empty", "vectors.txt"} {
			os.RemoveAll(filepath.Join(vectorDir, d))
		}
		if err := os.CopyFS(vectorDir, os.DirFS(tmp)); err != nil {
			t.Fatal(err)
		}
	}
	want := treeFiles(t, tmp)
	got := treeFiles(t, vectorDir)
	delete(got, "README.md")
	for _, k := range sortedStrings(mapsKeys(want)) {
		if !bytes.Equal(got[k], want[k]) {
			t.Errorf("%s differs from the generator's output (run with -update if the change is intended)", k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s is not made by the generator", k)
		}
	}
	runManifest(t, vectorDir)
}

func mapsKeys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func treeFiles(t testing.TB, root string) map[string][]byte {
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		r, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(r)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runManifest runs vectors.txt (format: testdata/volume/README.md).
func runManifest(t *testing.T, root string) {
	f, err := os.Open(filepath.Join(root, "vectors.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		name    string
		scratch string
		key     Key
		v       *Volume
		openErr error
	)
	sc := bufio.NewScanner(f)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		a := strings.Fields(line)
		if len(a) == 0 {
			continue
		}
		fail := func(format string, x ...any) {
			t.Helper()
			t.Errorf("vectors.txt:%d (%s): %s", ln, name, fmt.Sprintf(format, x...))
		}
		switch a[0] {
		case "derive":
			got := mustDerive(fskey.Key(mustHex(a[1])), a[2])
			if hex.EncodeToString(got) != a[3] {
				fail("derived key %x", got)
			}
		case "keystream":
			n, _ := strconv.Atoi(a[3])
			if got := ks(Key(mustHex(a[1])), a[2], n); got != a[4] {
				fail("keystream %s", got)
			}
		case "case":
			name, v, openErr = a[1], nil, nil
		case "volume":
			scratch = filepath.Join(t.TempDir(), "v")
			if err := os.CopyFS(scratch, os.DirFS(filepath.Join(root, a[1]))); err != nil {
				t.Fatal(err)
			}
			key = Key(mustHex(a[2]))
		case "flip":
			off, _ := strconv.ParseInt(a[2], 10, 64)
			flipByte(t, filepath.Join(scratch, a[1]), off)
		case "cut":
			n, _ := strconv.ParseInt(a[2], 10, 64)
			if err := os.Truncate(filepath.Join(scratch, a[1]), n); err != nil {
				t.Fatal(err)
			}
		case "remove":
			if err := os.Remove(filepath.Join(scratch, a[1])); err != nil {
				t.Fatal(err)
			}
		case "open":
			v, openErr = Open(scratch, key, ReadOnly())
			if got := outcomeOf(openErr); got != a[1] {
				fail("open: %v (outcome %s, want %s)", openErr, got, a[1])
			}
		default:
			if v == nil {
				fail("%s without an open volume", a[0])
				continue
			}
			checkDirective(t, v, a, fail)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

func checkDirective(t *testing.T, v *Volume, a []string, fail func(string, ...any)) {
	switch a[0] {
	case "version":
		ver, root := v.Root()
		if strconv.FormatUint(ver, 10) != a[1] || len(a) > 2 && hex.EncodeToString(root[:]) != a[2] {
			fail("version %d root %x", ver, root)
		}
	case "file":
		b, err := v.ReadFile(a[1])
		if err != nil {
			fail("read %s: %v", a[1], err)
			return
		}
		if strconv.Itoa(len(b)) != a[2] || len(a) > 3 && sha(string(b)) != a[3] {
			fail("%s: %d bytes, sha %s", a[1], len(b), sha(string(b)))
		}
	case "fileerr":
		_, err := v.ReadFile(a[1])
		if got := outcomeOf(err); got != a[2] {
			fail("read %s: %v (outcome %s, want %s)", a[1], err, got, a[2])
		}
	case "dir":
		ents, err := v.ReadDir(a[1])
		if err != nil {
			fail("%v", err)
			return
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if strings.Join(names, " ") != strings.Join(a[2:], " ") {
			fail("entries %v", names)
		}
	case "symlink":
		if got, err := v.ReadLink(a[1]); err != nil || got != a[2] {
			fail("readlink %s: %q %v", a[1], got, err)
		}
	case "stat":
		fi, err := v.Lstat(a[1])
		if err != nil {
			fail("%v", err)
			return
		}
		st := fi.Sys().(*Stat)
		if got := fmt.Sprintf("%o %d %d %d", st.Mode, st.UID, st.GID, st.Nlink); got != strings.Join(a[2:], " ") {
			fail("stat %s: %s", a[1], got)
		}
	default:
		fail("unknown directive %q", a[0])
	}
}

// outcomeOf names an error as vectors.txt does.
func outcomeOf(err error) string {
	var ae *AuthError
	var ve *UnknownVersionError
	var fe *FormatError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrWrongKey):
		return "key"
	case errors.Is(err, ErrNotVolume):
		return "notvolume"
	case errors.As(err, &ve):
		return "version"
	case errors.As(err, &ae):
		return ae.Part
	case errors.As(err, &fe):
		return "format"
	}
	return "error: " + err.Error()
}

func sortedStrings(s []string) []string { slices.Sort(s); return s }
