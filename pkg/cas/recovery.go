package cas

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
)

// Recovery of a sealed CAS state (docs/cas.md, "Recovery"). A CAS whose
// state is sealed to its enclave (--store-key sealed) can name owners'
// recovery keys: it then keeps, next to the state, a recovery file that
// holds its store key and identity key encrypted under a random recovery
// key K, and K split into one share per owner (any threshold of them give
// K), each share encrypted to its owner's public key with HPKE (RFC 9180).
// A CAS of another version (MRENCLAVE) or on another platform cannot open
// the sealed state; it collects threshold shares from the owners, who
// decrypt them with their private keys and hand them over a TLS connection
// bound to that CAS's quote, and seals the state to itself: same CAS ID,
// same policies.

// RecoveryFileName is the recovery file in the state directory.
const RecoveryFileName = "recovery.json"

const (
	recoveryVersion   = 1
	recoveryLabel     = "scone-cas recovery v1"
	recoveryShareHash = "scone-cas recovery share v1"
)

// ErrRecovery: recovery data, a recovery key or a share is invalid or
// does not fit.
var ErrRecovery = errors.New("recovery failed")

// RecoveryPublicKey is an owner's key that shares are encrypted to: ECDH
// P-256 (an ECDSA or EC PEM public key) or X25519.
type RecoveryPublicKey struct {
	pub *ecdh.PublicKey
	ID  [32]byte // SHA-256 of its DER SubjectPublicKeyInfo
}

// RecoveryPrivateKey is an owner's private recovery key.
type RecoveryPrivateKey struct {
	priv *ecdh.PrivateKey
	ID   [32]byte // of its public key
}

func recoveryKeyID(pub *ecdh.PublicKey) ([32]byte, error) {
	var der []byte
	var err error
	if pub.Curve() == ecdh.P256() {
		// the ECDSA form of the point: what openssl and Go write for EC keys
		k, e := ecdsaOf(pub)
		if e != nil {
			return [32]byte{}, e
		}
		der, err = x509.MarshalPKIXPublicKey(k)
	} else {
		der, err = x509.MarshalPKIXPublicKey(pub)
	}
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(der), nil
}

func ecdsaOf(pub *ecdh.PublicKey) (*ecdsa.PublicKey, error) {
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pub.Bytes())
}

func recoveryECDH(k any) (*ecdh.PublicKey, error) {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: an EC key on %s, want P-256", ErrRecovery, k.Curve.Params().Name)
		}
		return k.ECDH()
	case *ecdh.PublicKey:
		if k.Curve() != ecdh.X25519() && k.Curve() != ecdh.P256() {
			return nil, fmt.Errorf("%w: an ECDH key on another curve than X25519 or P-256", ErrRecovery)
		}
		return k, nil
	}
	if _, ok := k.(ed25519.PublicKey); ok {
		return nil, fmt.Errorf("%w: an Ed25519 key (a signing key, like a policy owner's), want EC P-256 or X25519 (openssl genpkey -algorithm x25519)", ErrRecovery)
	}
	return nil, fmt.Errorf("%w: a %T, want an EC P-256 or X25519 key (openssl genpkey -algorithm x25519)", ErrRecovery, k)
}

// ParseRecoveryPublicKey reads a PEM "PUBLIC KEY" of P-256 or X25519.
func ParseRecoveryPublicKey(b []byte) (*RecoveryPublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("reading recovery public key: %w: not a PEM PUBLIC KEY", ErrRecovery)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading recovery public key: %w: %v", ErrRecovery, err)
	}
	pub, err := recoveryECDH(k)
	if err != nil {
		return nil, fmt.Errorf("reading recovery public key: %w", err)
	}
	id, err := recoveryKeyID(pub)
	if err != nil {
		return nil, err
	}
	return &RecoveryPublicKey{pub: pub, ID: id}, nil
}

// ParseRecoveryPrivateKey reads a PEM PKCS #8 "PRIVATE KEY" (P-256 or
// X25519) or "EC PRIVATE KEY" (P-256).
func ParseRecoveryPrivateKey(b []byte) (*RecoveryPrivateKey, error) {
	k, err := pemPrivateKey(b, "", " or EC PRIVATE KEY")
	if err != nil {
		return nil, fmt.Errorf("reading recovery private key: %w: %v", ErrRecovery, err)
	}
	var priv *ecdh.PrivateKey
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("reading recovery private key: %w: an EC key on %s, want P-256", ErrRecovery, k.Curve.Params().Name)
		}
		priv, err = k.ECDH()
	case *ecdh.PrivateKey:
		if k.Curve() != ecdh.X25519() {
			return nil, fmt.Errorf("reading recovery private key: %w: want P-256 or X25519", ErrRecovery)
		}
		priv = k
	case ed25519.PrivateKey:
		return nil, fmt.Errorf("reading recovery private key: %w: an Ed25519 key (a signing key, like a policy owner's), want EC P-256 or X25519", ErrRecovery)
	default:
		return nil, fmt.Errorf("reading recovery private key: %w: a %T, want EC P-256 or X25519", ErrRecovery, k)
	}
	if err != nil {
		return nil, fmt.Errorf("reading recovery private key: %w: %v", ErrRecovery, err)
	}
	id, err := recoveryKeyID(priv.PublicKey())
	if err != nil {
		return nil, err
	}
	return &RecoveryPrivateKey{priv: priv, ID: id}, nil
}

// RecoveryFile is the recovery data of one CAS (JSON, RecoveryFileName).
// Nothing in it is secret without threshold owners' private keys.
type RecoveryFile struct {
	Version   int    `json:"version"`
	CASID     string `json:"cas_id"`
	Threshold int    `json:"threshold"`
	// Sealed: AES-256-GCM under K (nonce 12 zero bytes: K is used once),
	// AAD recoveryAAD, of the store key (32 bytes) || the identity key
	// (PKCS #8 DER).
	Sealed []byte          `json:"sealed"`
	Shares []RecoveryShare `json:"shares"`
}

// RecoveryShare is one owner's share of K.
type RecoveryShare struct {
	Key string `json:"key"` // hex ID of the owner's recovery public key
	// Encrypted: HPKE base mode (DHKEM of the key's curve, HKDF-SHA256,
	// AES-256-GCM), info recoveryInfo, of x || y (33 bytes): enc || ct.
	Encrypted []byte `json:"encrypted"`
	// Check: SHA-256("scone-cas recovery share v1" || x || y), so that
	// the CAS tells a wrong share from a right one when it arrives.
	Check string `json:"check"`
}

// RecoveredState is what a recovery file protects.
type RecoveredState struct {
	StoreKey []byte
	Identity *ecdsa.PrivateKey
}

func recoveryAAD(casID string) []byte { return []byte(recoveryLabel + "\x00" + casID) }
func recoveryInfo(casID string) []byte {
	return []byte(recoveryLabel + " share\x00" + casID)
}

func shareCheck(share []byte) string {
	h := sha256.New()
	h.Write([]byte(recoveryShareHash))
	h.Write(share)
	return hex.EncodeToString(h.Sum(nil))
}

func suite(pub *ecdh.PublicKey) (hpke.KEM, hpke.KDF, hpke.AEAD) {
	return hpke.DHKEM(pub.Curve()), hpke.HKDFSHA256(), hpke.AES256GCM()
}

// NewRecoveryFile makes the recovery data of st for keys (one share each,
// threshold of them recover it).
func NewRecoveryFile(st *RecoveredState, keys []*RecoveryPublicKey, threshold int) (*RecoveryFile, error) {
	if len(keys) == 0 || threshold < 1 || threshold > len(keys) {
		return nil, fmt.Errorf("making recovery data: %w: threshold %d with %d recovery keys (want 1..%d)", ErrRecovery, threshold, len(keys), len(keys))
	}
	seen := map[[32]byte]bool{}
	for _, k := range keys {
		if seen[k.ID] {
			return nil, fmt.Errorf("making recovery data: %w: recovery key %x given twice", ErrRecovery, k.ID[:8])
		}
		seen[k.ID] = true
	}
	id, err := KeyID(&st.Identity.PublicKey)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(st.Identity)
	if err != nil {
		return nil, err
	}
	plain := append(append([]byte{}, st.StoreKey...), der...)
	defer clear(plain)
	clear(der)
	k := make([]byte, 32)
	defer clear(k)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	aead, err := gcm(k)
	if err != nil {
		return nil, err
	}
	f := &RecoveryFile{Version: recoveryVersion, CASID: id.String(), Threshold: threshold,
		Sealed: aead.Seal(nil, make([]byte, aead.NonceSize()), plain, recoveryAAD(id.String()))}
	shares, err := shamirSplit(k, len(keys), threshold)
	if err != nil {
		return nil, err
	}
	for i, key := range keys {
		kem, kdf, ae := suite(key.pub)
		pk, err := kem.NewPublicKey(key.pub.Bytes())
		if err != nil {
			return nil, err
		}
		ct, err := hpke.Seal(pk, kdf, ae, recoveryInfo(f.CASID), shares[i])
		if err != nil {
			return nil, fmt.Errorf("encrypting a recovery share: %w", err)
		}
		f.Shares = append(f.Shares, RecoveryShare{Key: hex.EncodeToString(key.ID[:]), Encrypted: ct, Check: shareCheck(shares[i])})
		clear(shares[i])
	}
	return f, nil
}

func gcm(k []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// ParseRecoveryFile reads and checks the structure of recovery data.
func ParseRecoveryFile(b []byte) (*RecoveryFile, error) {
	var f RecoveryFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("reading recovery data: %w: %v", ErrRecovery, err)
	}
	if f.Version != recoveryVersion {
		return nil, fmt.Errorf("reading recovery data: %w: version %d, this CAS reads %d", ErrRecovery, f.Version, recoveryVersion)
	}
	if _, err := ParseID(f.CASID); err != nil {
		return nil, fmt.Errorf("reading recovery data: %w: cas_id: %v", ErrRecovery, err)
	}
	if len(f.Shares) == 0 || f.Threshold < 1 || f.Threshold > len(f.Shares) || len(f.Shares) > 255 {
		return nil, fmt.Errorf("reading recovery data: %w: threshold %d of %d shares", ErrRecovery, f.Threshold, len(f.Shares))
	}
	if len(f.Sealed) < 32+16 {
		return nil, fmt.Errorf("reading recovery data: %w: sealed state of %d bytes", ErrRecovery, len(f.Sealed))
	}
	for i, s := range f.Shares {
		if k, err := hex.DecodeString(s.Key); err != nil || len(k) != 32 {
			return nil, fmt.Errorf("reading recovery data: %w: share %d: key is not 64 hex digits", ErrRecovery, i)
		}
		if c, err := hex.DecodeString(s.Check); err != nil || len(c) != 32 {
			return nil, fmt.Errorf("reading recovery data: %w: share %d: check is not 64 hex digits", ErrRecovery, i)
		}
	}
	return &f, nil
}

// Marshal encodes the recovery data (indented JSON and a newline).
func (f *RecoveryFile) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// For says whether f was made for exactly keys with threshold and the
// CAS ID id (else the CAS makes it anew).
func (f *RecoveryFile) For(keys []*RecoveryPublicKey, threshold int, id ID) bool {
	if f.Threshold != threshold || f.CASID != id.String() || len(f.Shares) != len(keys) {
		return false
	}
	var have, want []string
	for _, s := range f.Shares {
		have = append(have, s.Key)
	}
	for _, k := range keys {
		want = append(want, hex.EncodeToString(k.ID[:]))
	}
	sort.Strings(have)
	sort.Strings(want)
	for i := range have {
		if have[i] != want[i] {
			return false
		}
	}
	return true
}

// OpenShare is the owner's side: the share encrypted to priv, decrypted
// (x || y, 33 bytes).
func (f *RecoveryFile) OpenShare(priv *RecoveryPrivateKey) ([]byte, error) {
	want := hex.EncodeToString(priv.ID[:])
	for _, s := range f.Shares {
		if s.Key != want {
			continue
		}
		kem, kdf, ae := suite(priv.priv.PublicKey())
		sk, err := kem.NewPrivateKey(priv.priv.Bytes())
		if err != nil {
			return nil, err
		}
		share, err := hpke.Open(sk, kdf, ae, recoveryInfo(f.CASID), s.Encrypted)
		if err != nil {
			return nil, fmt.Errorf("opening the recovery share: %w: it does not decrypt with this key (%v)", ErrRecovery, err)
		}
		if err := f.CheckShare(share); err != nil {
			return nil, err
		}
		return share, nil
	}
	return nil, fmt.Errorf("opening the recovery share: %w: no share for recovery key %s in the CAS's recovery data (it lists %d other keys)", ErrRecovery, want[:16], len(f.Shares))
}

// CheckShare says whether share is one of f's (by its check value).
func (f *RecoveryFile) CheckShare(share []byte) error {
	if len(share) != 33 || share[0] == 0 || int(share[0]) > len(f.Shares) {
		return fmt.Errorf("%w: a share is 33 bytes, x from 1 to %d", ErrRecovery, len(f.Shares))
	}
	c := shareCheck(share)
	if subtle.ConstantTimeCompare([]byte(c), []byte(f.Shares[share[0]-1].Check)) != 1 {
		return fmt.Errorf("%w: share %d is not the one this recovery data was made with", ErrRecovery, share[0])
	}
	return nil
}

// Recover combines checked shares (at least the threshold) into the
// state and checks that its identity key is the CAS ID's.
func (f *RecoveryFile) Recover(shares [][]byte) (*RecoveredState, error) {
	if len(shares) < f.Threshold {
		return nil, fmt.Errorf("%w: %d of %d shares", ErrRecovery, len(shares), f.Threshold)
	}
	k, err := shamirCombine(shares)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecovery, err)
	}
	defer clear(k)
	aead, err := gcm(k)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, make([]byte, aead.NonceSize()), f.Sealed, recoveryAAD(f.CASID))
	if err != nil {
		return nil, fmt.Errorf("%w: the shares do not open the sealed state (modified recovery data?)", ErrRecovery)
	}
	defer clear(plain)
	key, err := x509.ParsePKCS8PrivateKey(plain[32:])
	if err != nil {
		return nil, fmt.Errorf("%w: the recovered identity key: %v", ErrRecovery, err)
	}
	ek, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: the recovered identity key is a %T", ErrRecovery, key)
	}
	id, err := KeyID(&ek.PublicKey)
	if err != nil || id.String() != f.CASID {
		return nil, fmt.Errorf("%w: the recovered identity key is not CAS ID %s", ErrRecovery, f.CASID)
	}
	return &RecoveredState{StoreKey: bytes.Clone(plain[:32]), Identity: ek}, nil
}
