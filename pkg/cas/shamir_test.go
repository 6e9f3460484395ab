package cas

import (
	"bytes"
	"crypto/rand"
	"testing"
)

func TestGF256(t *testing.T) {
	// the AES field: 0x53 * 0xca = 1 (FIPS 197, 4.2)
	if gfMul(0x53, 0xca) != 1 || gfMul(0x57, 0x83) != 0xc1 {
		t.Fatalf("gfMul(0x53, 0xca) = %#x, gfMul(0x57, 0x83) = %#x", gfMul(0x53, 0xca), gfMul(0x57, 0x83))
	}
	for a := 1; a < 256; a++ {
		if gfMul(byte(a), gfInv(byte(a))) != 1 {
			t.Fatalf("%#x * inv = %#x", a, gfMul(byte(a), gfInv(byte(a))))
		}
	}
}

// subsets calls fn with every subset of {0..n-1} of size k.
func subsets(n, k int, fn func([]int)) {
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == k {
			fn(cur)
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
}

func TestShamir(t *testing.T) {
	secret := make([]byte, 32)
	rand.Read(secret)
	for _, c := range []struct{ n, k int }{{1, 1}, {2, 1}, {2, 2}, {3, 2}, {5, 3}, {5, 5}} {
		shares, err := shamirSplit(secret, c.n, c.k)
		if err != nil {
			t.Fatal(err)
		}
		for size := 1; size <= c.n; size++ {
			subsets(c.n, size, func(idx []int) {
				var pick [][]byte
				for _, i := range idx {
					pick = append(pick, shares[i])
				}
				got, err := shamirCombine(pick)
				if err != nil {
					t.Fatalf("%d of %d (threshold %d): %v", size, c.n, c.k, err)
				}
				if ok := bytes.Equal(got, secret); ok != (size >= c.k) {
					t.Fatalf("%d of %d shares (threshold %d) %v: recovered=%v", size, c.n, c.k, idx, ok)
				}
			})
		}
	}
	for _, c := range []struct{ n, k int }{{0, 0}, {2, 3}, {3, 0}, {256, 2}} {
		if _, err := shamirSplit(secret, c.n, c.k); err == nil {
			t.Errorf("split %d/%d: no error", c.k, c.n)
		}
	}
	s, _ := shamirSplit(secret, 3, 2)
	for name, bad := range map[string][][]byte{
		"none":        nil,
		"repeated x":  {s[0], s[0]},
		"zero x":      {append([]byte{0}, s[0][1:]...), s[1]},
		"other sizes": {s[0], s[1][:10]},
	} {
		if _, err := shamirCombine(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
