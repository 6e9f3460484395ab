package slab

import (
	"sync"
	"testing"
	"unsafe"
)

func TestAlloc(t *testing.T) {
	var a Allocator
	for _, tc := range []struct {
		name string
		n    int
	}{
		{"zero", 0},
		{"negative", -1},
		{"one", 1},
		{"page", 4096},
		{"just under own block", own - 1},
		{"own block", own},
		{"larger than a block", BlockSize + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := a.Alloc(tc.n)
			want := max(tc.n, 0)
			if len(b) != want || cap(b) != want {
				t.Fatalf("Alloc(%d): len %d cap %d, want %d", tc.n, len(b), cap(b), want)
			}
			for i := range b {
				b[i] = 0xff
			}
		})
	}
}

// overlap says whether two slices share memory.
func overlap(x, y []byte) bool {
	if len(x) == 0 || len(y) == 0 {
		return false
	}
	xs, ys := uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&y[0]))
	return xs < ys+uintptr(len(y)) && ys < xs+uintptr(len(x))
}

func TestDisjoint(t *testing.T) {
	var a Allocator
	var got [][]byte
	for i := range 3000 {
		n := 1 + (i*7919)%20000
		b := a.Alloc(n)
		for j := range b {
			b[j] = byte(i)
		}
		got = append(got, b)
	}
	for i, b := range got {
		for j, c := range b {
			if c != byte(i) {
				t.Fatalf("slice %d byte %d overwritten: %d", i, j, c)
			}
		}
		if i > 0 && overlap(b, got[i-1]) {
			t.Fatalf("slices %d and %d overlap", i-1, i)
		}
	}
	// append to a slice must not write into its neighbour: cap == len.
	b := append(got[0], 1)
	if overlap(b, got[1]) {
		t.Fatal("append grew a slice into its neighbour")
	}
}

func TestTrim(t *testing.T) {
	t.Run("last slice gives its tail back", func(t *testing.T) {
		var a Allocator
		x := a.Alloc(100)
		for i := range x {
			x[i] = 7
		}
		x = a.Trim(x, 40)
		if len(x) != 40 || cap(x) != 40 {
			t.Fatalf("Trim: len %d cap %d, want 40", len(x), cap(x))
		}
		y := a.Alloc(60)
		if &y[0] != &unsafe.Slice(&x[0], 41)[40] {
			t.Fatal("the next slice does not start where the trimmed one ends")
		}
		if y[0] != 7 {
			t.Fatalf("the tail given back holds %d, want its old bytes (7): was it cleared?", y[0])
		}
	})
	t.Run("earlier slice keeps its bytes", func(t *testing.T) {
		var a Allocator
		x := a.Alloc(100)
		y := a.Alloc(10)
		y[0] = 9
		x = a.Trim(x, 10)
		z := a.Alloc(10)
		if overlap(z, y) || overlap(z, x) {
			t.Fatal("a slice was handed out twice")
		}
		if y[0] != 9 {
			t.Fatal("trimming an earlier slice changed a later one")
		}
	})
	t.Run("own block", func(t *testing.T) {
		var a Allocator
		x := a.Trim(a.Alloc(own), 5)
		if len(x) != 5 || cap(x) != 5 {
			t.Fatalf("Trim: len %d cap %d, want 5", len(x), cap(x))
		}
	})
	t.Run("out of range keeps the length", func(t *testing.T) {
		var a Allocator
		x := a.Alloc(10)
		if n := len(a.Trim(x, 11)); n != 10 {
			t.Fatalf("Trim(x, 11): len %d, want 10", n)
		}
		if n := len(a.Trim(x, -1)); n != 10 {
			t.Fatalf("Trim(x, -1): len %d, want 10", n)
		}
	})
}

func TestConcurrent(t *testing.T) {
	var a Allocator
	var wg sync.WaitGroup
	res := make([][][]byte, 4)
	for g := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				b := a.Alloc(1 + (i*31+g)%9000)
				for j := range b {
					b[j] = byte(g)
				}
				if i%3 == 0 {
					b = a.Trim(b, len(b)/2)
				}
				res[g] = append(res[g], b)
			}
		}()
	}
	wg.Wait()
	for g, bs := range res {
		for _, b := range bs {
			for _, c := range b {
				if c != byte(g) {
					t.Fatalf("goroutine %d's slice holds %d", g, c)
				}
			}
		}
	}
}

// BenchmarkFirstTouch copies into 64 MiB of fresh memory in 64 KiB pieces:
// each from make (Go's heap, 4 KiB pages where THP is "madvise") and each
// from an Allocator. Run with -benchtime 1x -count N: a second round in the
// same process reuses the heap the first one freed.
func BenchmarkFirstTouch(b *testing.B) {
	src := make([]byte, 64<<10)
	for i := range src {
		src[i] = byte(i)
	}
	const total = 64 << 20
	for _, v := range []struct {
		name  string
		alloc func(int) []byte
	}{
		{"make", func(n int) []byte { return make([]byte, n) }},
		{"slab", new(Allocator).Alloc},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(total)
			for range b.N {
				keep := make([][]byte, 0, total/len(src))
				for range total / len(src) {
					d := v.alloc(len(src))
					copy(d, src)
					keep = append(keep, d)
				}
			}
		})
	}
}
