package cas

import (
	"crypto/rand"
	"errors"
	"fmt"
)

// Shamir's secret sharing over GF(2^8) (the AES field, x^8+x^4+x^3+x+1),
// byte by byte: share x (1..255) of a secret is the value at x of a random
// polynomial of degree threshold-1 per byte whose constant term is that
// byte. Any threshold shares give the secret (Lagrange interpolation at
// 0); fewer say nothing about it.

// gfMul multiplies in GF(2^8), in constant time.
func gfMul(a, b byte) byte {
	var p byte
	for i := 0; i < 8; i++ {
		p ^= a & -(b & 1)
		hi := a >> 7
		a = a<<1 ^ 0x1b&-hi
		b >>= 1
	}
	return p
}

// gfInv is a^254 = a^-1 (a != 0).
func gfInv(a byte) byte {
	r := byte(1)
	for e := 254; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = gfMul(r, a)
		}
		a = gfMul(a, a)
	}
	return r
}

// shamirSplit returns n shares of secret, any threshold of which recover
// it; share i is x = i+1 followed by the polynomials' values at x.
func shamirSplit(secret []byte, n, threshold int) ([][]byte, error) {
	if threshold < 1 || threshold > n || n > 255 {
		return nil, fmt.Errorf("splitting a secret into %d shares with threshold %d: want 1 <= threshold <= shares <= 255", n, threshold)
	}
	coef := make([]byte, len(secret)*(threshold-1))
	if _, err := rand.Read(coef); err != nil {
		return nil, err
	}
	defer clear(coef)
	shares := make([][]byte, n)
	for i := range shares {
		x := byte(i + 1)
		s := make([]byte, 1+len(secret))
		s[0] = x
		for j, c0 := range secret {
			// Horner: ((a_{t-1} x + a_{t-2}) x + ...) x + c0
			var y byte
			for k := threshold - 2; k >= 0; k-- {
				y = gfMul(y, x) ^ coef[j*(threshold-1)+k]
			}
			s[1+j] = gfMul(y, x) ^ c0
		}
		shares[i] = s
	}
	return shares, nil
}

var errShares = errors.New("shares of different lengths, a repeated or zero x, or none")

// shamirCombine interpolates the shares at 0. With fewer shares than the
// threshold, or a wrong share, the result is some other value: the caller
// authenticates it.
func shamirCombine(shares [][]byte) ([]byte, error) {
	if len(shares) == 0 {
		return nil, errShares
	}
	l := len(shares[0])
	seen := map[byte]bool{}
	for _, s := range shares {
		if len(s) != l || l < 2 || s[0] == 0 || seen[s[0]] {
			return nil, errShares
		}
		seen[s[0]] = true
	}
	out := make([]byte, l-1)
	for i, si := range shares {
		// the Lagrange basis polynomial of share i at 0: prod x_j / (x_j - x_i)
		num, den := byte(1), byte(1)
		for j, sj := range shares {
			if i != j {
				num = gfMul(num, sj[0])
				den = gfMul(den, sj[0]^si[0])
			}
		}
		li := gfMul(num, gfInv(den))
		for k := range out {
			out[k] ^= gfMul(si[1+k], li)
		}
	}
	return out, nil
}
