package volume

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"path"

	"github.com/scone-build/scone-build/pkg/fskey"
)

// KeySize is the size of a volume key.
const KeySize = 32

// Key is a 32-byte volume key.
type Key [KeySize]byte

// HKDF-SHA-256 labels (info strings); the salt is empty (docs/volume.md).
const (
	labelVolumeKey = "scone-vol v1 volume key"
	labelKeyCheck  = "scone-vol v1 key check"
	labelSIVHash   = "scone-vol v1 siv hash"
	labelSIVPRP    = "scone-vol v1 siv prp"
	labelEnc       = "scone-vol v1 enc"
)

// DeriveKey derives the key of the volume mounted at mountPath (a clean
// absolute path other than "/") from the image's FS key: the key a volume
// gets when the CAS policy grants none.
func DeriveKey(fsKey fskey.Key, mountPath string) (Key, error) {
	if err := checkMountPath(mountPath); err != nil {
		return Key{}, err
	}
	b, err := hkdf.Key(sha256.New, fsKey[:], nil, labelVolumeKey+"\x00"+mountPath, KeySize)
	if err != nil {
		return Key{}, fmt.Errorf("derive volume key for %q: %w", mountPath, err)
	}
	return Key(b), nil
}

func checkMountPath(p string) error {
	if p == "" || p[0] != '/' || p == "/" || path.Clean(p) != p || len(p) > maxPathLen {
		return fmt.Errorf("volume path %q: want a clean absolute path other than / (at most %d bytes)", p, maxPathLen)
	}
	for i := 0; i < len(p); i++ {
		if p[i] == 0 {
			return fmt.Errorf("volume path %q: NUL byte", p)
		}
	}
	return nil
}

// Kinds of positions.
const (
	kindHeader   = 1
	kindData     = 2
	kindTag      = 3
	kindSnapshot = 4
	kindCommit   = 5
)

// position is the 64-byte associated data of a seal: what an object is
// and where it belongs.
type position struct {
	kind, level uint32
	vol         [16]byte
	file, index uint64
	link        [16]byte
	aux         uint64
}

const posSize = 64

func (p *position) put(b []byte) {
	le.PutUint32(b[0:], p.kind)
	le.PutUint32(b[4:], p.level)
	copy(b[8:24], p.vol[:])
	le.PutUint64(b[24:], p.file)
	le.PutUint64(b[32:], p.index)
	copy(b[40:56], p.link[:])
	le.PutUint64(b[56:], p.aux)
}

var le = binary.LittleEndian

// keys holds the sub-keys of one volume key.
type keys struct {
	check [16]byte
	gmac  cipher.AEAD  // K1: GMAC with a zero nonce = GHASH xor constant
	prp   cipher.Block // K2
	enc   cipher.Block // KE
}

func newKeys(k Key) (*keys, error) {
	derive := func(label string, n int) ([]byte, error) {
		b, err := hkdf.Key(sha256.New, k[:], nil, label, n)
		if err != nil {
			return nil, fmt.Errorf("derive key %q: %w", label, err)
		}
		return b, nil
	}
	ks := new(keys)
	c, err := derive(labelKeyCheck, 32)
	if err != nil {
		return nil, err
	}
	copy(ks.check[:], c)
	var raw [3][]byte
	for i, l := range []string{labelSIVHash, labelSIVPRP, labelEnc} {
		if raw[i], err = derive(l, 32); err != nil {
			return nil, err
		}
	}
	b1, err := aes.NewCipher(raw[0])
	if err != nil {
		return nil, fmt.Errorf("init AES: %w", err)
	}
	if ks.gmac, err = cipher.NewGCM(b1); err != nil {
		return nil, fmt.Errorf("init GCM: %w", err)
	}
	if ks.prp, err = aes.NewCipher(raw[1]); err != nil {
		return nil, fmt.Errorf("init AES: %w", err)
	}
	if ks.enc, err = aes.NewCipher(raw[2]); err != nil {
		return nil, fmt.Errorf("init AES: %w", err)
	}
	return ks, nil
}

var zeroNonce [12]byte

// mac returns S = AES_K2(GMAC_K1(0^96, A || m)).
func (k *keys) mac(p *position, m []byte) [16]byte {
	buf := make([]byte, posSize+len(m))
	p.put(buf)
	copy(buf[posSize:], m)
	var s [16]byte
	k.gmac.Seal(s[:0], zeroNonce[:], nil, buf)
	k.prp.Encrypt(s[:], s[:])
	return s
}

// keystream XORs src with the CTR keystream of IV s into dst: block j is
// AES_KE(s[0:12] || be32(be32(s[12:16]) + j mod 2^32)).
func (k *keys) keystream(s [16]byte, dst, src []byte) {
	c0 := binary.BigEndian.Uint32(s[12:])
	blocks := (uint64(len(src)) + 15) / 16
	first := uint64(1<<32) - uint64(c0) // blocks before the counter wraps
	var iv [16]byte
	copy(iv[:12], s[:12])
	binary.BigEndian.PutUint32(iv[12:], c0)
	if blocks <= first {
		cipher.NewCTR(k.enc, iv[:]).XORKeyStream(dst, src)
		return
	}
	n := int(first * 16)
	cipher.NewCTR(k.enc, iv[:]).XORKeyStream(dst[:n], src[:n])
	binary.BigEndian.PutUint32(iv[12:], 0)
	cipher.NewCTR(k.enc, iv[:]).XORKeyStream(dst[n:], src[n:])
}

// seal encrypts m into dst (len(m) bytes; dst may be m) and returns S.
func (k *keys) seal(p *position, m, dst []byte) [16]byte {
	s := k.mac(p, m)
	k.keystream(s, dst, m)
	return s
}

// open decrypts c into dst (len(c) bytes; dst may be c) and checks S; on
// failure dst is wiped and false returned.
func (k *keys) open(p *position, c, dst []byte, s [16]byte) bool {
	k.keystream(s, dst, c)
	got := k.mac(p, dst[:len(c)])
	if subtle.ConstantTimeCompare(got[:], s[:]) != 1 {
		clear(dst[:len(c)])
		return false
	}
	return true
}
