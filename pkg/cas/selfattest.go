package cas

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/scone-build/scone-build/pkg/attest"
)

// Platform is what a CAS that runs in an enclave asks of it: a quote of
// the enclave with chosen REPORTDATA, and the enclave's sealing key.
type Platform interface {
	// Quote returns a quote of this enclave whose REPORTDATA is reportData.
	Quote(reportData [64]byte) ([]byte, error)
	// SealKey returns the enclave's sealing key (bound to its MRENCLAVE
	// on its platform).
	SealKey() ([]byte, error)
}

// DevAttestationDir is where Gramine, and scone-run in a converted image,
// serve the enclave's attestation files (docs/attestation.md).
const DevAttestationDir = "/dev/attestation"

// DevAttestation is the Platform of Gramine's /dev/attestation files under
// Dir (DevAttestationDir when empty).
type DevAttestation struct{ Dir string }

func (d DevAttestation) path(name string) string {
	if d.Dir == "" {
		return filepath.Join(DevAttestationDir, name)
	}
	return filepath.Join(d.Dir, name)
}

// Available says whether the files exist: the process runs in an enclave
// that serves them (scone-run serves them only with a quote key).
func (d DevAttestation) Available() bool {
	_, err := os.Stat(d.path("quote"))
	return err == nil
}

// Quote writes user_report_data and reads quote.
func (d DevAttestation) Quote(reportData [64]byte) ([]byte, error) {
	p := d.path("user_report_data")
	if err := os.WriteFile(p, reportData[:], 0); err != nil {
		return nil, fmt.Errorf("writing report data %q: %w", p, err)
	}
	p = d.path("quote")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading quote %q: %w", p, err)
	}
	return b, nil
}

// SealKey reads keys/_sgx_mrenclave.
func (d DevAttestation) SealKey() ([]byte, error) {
	p := d.path("keys/_sgx_mrenclave")
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading sealing key %q: %w", p, err)
	}
	return b, nil
}

// idLabel starts the REPORTDATA of a CAS's own quote (docs/cas.md, "The
// CAS in an enclave").
const idLabel = "scone-cas id v1"

// IDReportData is the REPORTDATA of the quote a CAS serves in GET /v1/id:
// SHA-256("scone-cas id v1" || 0x00 || CAS ID) || 32 zero bytes. It binds
// the identity key (the CAS's TLS key) to the enclave.
func IDReportData(id ID) [64]byte {
	h := sha256.New()
	h.Write([]byte(idLabel))
	h.Write([]byte{0})
	h.Write(id[:])
	var rd [64]byte
	copy(rd[:], h.Sum(nil))
	return rd
}

// ErrSelfQuote: the CAS cannot get a quote of its own enclave.
var ErrSelfQuote = errors.New("no quote of the CAS's own enclave")

// SelfQuote asks p for a quote of the CAS's enclave that binds id
// (IDReportData), for WithSelfQuote. It checks that the quote parses and
// carries that REPORTDATA.
func SelfQuote(p Platform, id ID) ([]byte, error) {
	rd := IDReportData(id)
	b, err := p.Quote(rd)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSelfQuote, err)
	}
	q, err := attest.ParseQuote(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSelfQuote, err)
	}
	if q.Body.ReportData != rd {
		return nil, fmt.Errorf("%w: the quote does not carry the REPORTDATA written", ErrSelfQuote)
	}
	return b, nil
}

// ErrSelfAttestation: GET /v1/id's quote does not attest the CAS.
var ErrSelfAttestation = errors.New("the CAS's quote does not attest it")

// VerifySelfQuote checks the quote a CAS serves in GET /v1/id: verify
// (attest.VerifySimulation or a Verifier's Verify) accepts it, and its
// REPORTDATA binds id, the CAS ID whose key the TLS connection proved (a
// server that relays another CAS's quote fails here). It returns what the
// quote says.
func VerifySelfQuote(quote []byte, id ID, verify func(*attest.Quote) (*attest.Result, error)) (*attest.Result, error) {
	return verifyBoundQuote(quote, IDReportData(id), "CAS ID "+id.String(), verify)
}

// verifyBoundQuote: the quote verifies and carries the REPORTDATA rd, which
// binds what (said in the error).
func verifyBoundQuote(quote []byte, rd [64]byte, what string, verify func(*attest.Quote) (*attest.Result, error)) (*attest.Result, error) {
	if len(quote) == 0 {
		return nil, fmt.Errorf("%w: it serves no quote (it does not run in an enclave)", ErrSelfAttestation)
	}
	q, err := attest.ParseQuote(quote)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSelfAttestation, err)
	}
	res, err := verify(q)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSelfAttestation, err)
	}
	if res.Enclave.ReportData != rd {
		return nil, fmt.Errorf("%w: its REPORTDATA does not bind %s (the quote is of another key)", ErrSelfAttestation, what)
	}
	return res, nil
}

// SealedKeys are the CAS's keys derived from its enclave's sealing key:
// the store key, and the key that encrypts the identity key at rest.
type SealedKeys struct {
	Store    []byte // 32 bytes
	Identity []byte // 32 bytes
}

// DeriveSealedKeys derives the CAS's keys from a sealing key (HKDF-SHA256,
// info "scone-cas store key v1" and "scone-cas identity key v1").
func DeriveSealedKeys(sealKey []byte) (*SealedKeys, error) {
	if len(sealKey) < 16 {
		return nil, fmt.Errorf("deriving keys from a sealing key of %d bytes: %w: want at least 16", len(sealKey), ErrIdentityKey)
	}
	store, err := hkdf.Key(sha256.New, sealKey, nil, "scone-cas store key v1", 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the store key: %w", err)
	}
	ident, err := hkdf.Key(sha256.New, sealKey, nil, "scone-cas identity key v1", 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the identity sealing key: %w", err)
	}
	return &SealedKeys{Store: store, Identity: ident}, nil
}

// Wipe overwrites both keys.
func (k *SealedKeys) Wipe() {
	clear(k.Store)
	clear(k.Identity)
}

// sealedPEM is the PEM type of a sealed identity key; it is also the AAD.
const sealedPEM = "SCONE-CAS SEALED PRIVATE KEY"

// sealedStorePEM is the PEM type of a sealed store key (after a recovery,
// the store key is no longer the one derived from the sealing key).
const sealedStorePEM = "SCONE-CAS SEALED STORE KEY"

func sealPEM(aead cipher.AEAD, typ string, plain []byte) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: aead.Seal(nonce, nonce, plain, []byte(typ))}), nil
}

func openPEM(aead cipher.AEAD, typ string, b []byte) ([]byte, error) {
	blk, _ := pem.Decode(b)
	ns := aead.NonceSize()
	if blk == nil || blk.Type != typ || len(blk.Bytes) < ns+aead.Overhead() {
		return nil, fmt.Errorf("%w: not a %s block", ErrIdentityKey, typ)
	}
	plain, err := aead.Open(nil, blk.Bytes[:ns], blk.Bytes[ns:], []byte(typ))
	if err != nil {
		return nil, fmt.Errorf("%w: it does not open with this enclave's sealing key (another enclave, another platform, or modified)", ErrIdentityKey)
	}
	return plain, nil
}

// OpenSealedStoreKey reads a store key sealed with key (the identity
// sealing key of SealedKeys) by SealRecovered; os.ErrNotExist when there is
// none (the store key is then the derived one).
func OpenSealedStoreKey(path string, key []byte) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading sealed store key %q: %w", path, err)
	}
	aead, err := identityAEAD(key)
	if err != nil {
		return nil, err
	}
	sk, err := openPEM(aead, sealedStorePEM, b)
	if err == nil && len(sk) != StoreKeySize {
		err = fmt.Errorf("%w: a sealed store key of %d bytes", ErrIdentityKey, len(sk))
	}
	if err != nil {
		return nil, fmt.Errorf("reading sealed store key %q: %w", path, err)
	}
	return sk, nil
}

// SealRecovered seals a recovered state to this enclave: the identity key
// to identityPath and the store key to storePath, both with key (the
// identity sealing key of SealedKeys), each written to a temporary file
// and renamed over the old one.
func SealRecovered(identityPath, storePath string, key []byte, st *RecoveredState) error {
	aead, err := identityAEAD(key)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(st.Identity)
	if err != nil {
		return err
	}
	defer clear(der)
	for _, f := range []struct {
		path, typ string
		plain     []byte
	}{{storePath, sealedStorePEM, st.StoreKey}, {identityPath, sealedPEM, der}} {
		b, err := sealPEM(aead, f.typ, f.plain)
		if err != nil {
			return err
		}
		if err := replaceFile(f.path, b); err != nil {
			return fmt.Errorf("writing %q: %w", f.path, err)
		}
	}
	return nil
}

// replaceFile writes b to path through a temporary file (mode 0600),
// synced and renamed over it.
func replaceFile(path string, b []byte) error {
	tmp := path + ".tmp"
	os.Remove(tmp)
	if err := writeNew(tmp, b); err != nil {
		return err
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// LoadOrCreateSealedIdentityKey is LoadOrCreateIdentityKey for a CAS in an
// enclave: the file holds the PKCS #8 key encrypted with key (AES-256-GCM,
// PEM "SCONE-CAS SEALED PRIVATE KEY": 12-byte nonce || ciphertext || tag,
// the PEM type as AAD), so that the host never reads it. A file that does
// not open with key (another enclave, another platform, or modified) is
// ErrIdentityKey.
func LoadOrCreateSealedIdentityKey(path string, key []byte) (*ecdsa.PrivateKey, bool, error) {
	aead, err := identityAEAD(key)
	if err != nil {
		return nil, false, fmt.Errorf("opening identity key %q: %w", path, err)
	}
	return loadOrCreateKey(path, keyCodec{
		encode: func(der []byte) ([]byte, error) { return sealPEM(aead, sealedPEM, der) },
		decode: func(b []byte) (*ecdsa.PrivateKey, error) {
			der, err := openPEM(aead, sealedPEM, b)
			if err != nil {
				return nil, err
			}
			defer clear(der)
			return ParseIdentityKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		},
	})
}

func identityAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("%w: identity sealing key of %d bytes, want 32", ErrIdentityKey, len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
