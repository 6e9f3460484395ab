package volume

import (
	"os"
	"path/filepath"
	"testing"
)

// The parsers of docs/volume.md must refuse anything malformed without
// panicking. Seeds: the test vectors.

func FuzzHeader(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(vectorDir, "ok", headerFile)); err == nil {
		f.Add(b)
	}
	k, err := newKeys(vectorKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseHeader(b, nil)
		_, _ = parseHeader(b, k)
	})
}

// vectorVolume opens the ok vector read-only.
func vectorVolume(tb testing.TB) *Volume {
	v, err := Open(filepath.Join(vectorDir, "ok"), vectorKey, ReadOnly())
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func FuzzState(f *testing.F) {
	v := vectorVolume(f)
	f.Add(v.st.encode(v.root))
	f.Add(newState().encode([16]byte{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, root, err := decodeState(b, "fuzz")
		if err != nil {
			return
		}
		// What decodes must encode back to itself (the encoding is canonical
		// up to the strings area).
		if _, _, err := decodeState(st.encode(root), "fuzz"); err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
	})
}

func FuzzCommit(f *testing.F) {
	f.Add(encodeCommit([]pageRef{{off: 16, file: 3, level: 1, index: 2}}, []delta{
		{typ: deltaNextID, id: 9},
		{typ: deltaInode, ino: &inode{id: 8, mode: sIFLNK | 0o777, nlink: 1, size: 3, target: "abc"}},
		{typ: deltaLink, dir: 1, child: 8, name: "x"},
		{typ: deltaUnlink, dir: 1, name: "x"},
		{typ: deltaDrop, id: 8},
	}))
	v := vectorVolume(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, deltas, err := decodeCommit(b)
		if err != nil {
			return
		}
		st := v.st.clone()
		for _, d := range deltas {
			if st.apply(d) != nil {
				return
			}
		}
		_ = st.validate()
	})
}

// FuzzLog replays arbitrary bytes as the log of the ok vector's snapshot.
func FuzzLog(f *testing.F) {
	v := vectorVolume(f)
	if b, err := os.ReadFile(filepath.Join(vectorDir, "ok", logName(v.gen))); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := Open(filepath.Join(vectorDir, "ok"), vectorKey, ReadOnly())
		if err != nil {
			t.Fatal(err)
		}
		w.logEnd = 0
		if err := w.loadSnapshot(); err != nil {
			t.Fatal(err)
		}
		w.logMap = map[nodeKey]int64{}
		_ = w.replayBytes(b)
	})
}
