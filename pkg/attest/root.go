package attest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
)

// IntelSGXRootCAPublicKey is the public key of the Intel SGX Root CA, the
// trust anchor of every DCAP quote: an uncompressed P-256 point (0x04 || x || y).
//
// It is the key of the certificate Intel publishes at
// https://certificates.trustedservices.intel.com/IntelSGXRootCA.der
// (subject and issuer "CN=Intel SGX Root CA, O=Intel Corporation, L=Santa
// Clara, ST=CA, C=US", serial 22650cd65a9d3489f383b49552bf501b392706ac,
// valid 2018-05-21 to 2049-12-31), whose SHA-256 fingerprint is
// IntelSGXRootCACertSHA256. The same certificate ends every issuer chain of
// the test vector (sgx_quote_v3.bin and its collateral):
// TestIntelRootKeyMatchesVectorChains checks that it carries this key.
//
// Only this key is trusted: the root certificate a chain carries is never
// trusted for itself, its key must be this one.
const IntelSGXRootCAPublicKey = "04" +
	"0ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f5" +
	"67918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394"

// IntelSGXRootCACertSHA256 is the SHA-256 of the DER Intel SGX Root CA
// certificate (IntelSGXRootCA.der).
const IntelSGXRootCACertSHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"

// IntelSGXRootCAKeySHA256 is the SHA-256 of the root's SubjectPublicKeyInfo
// (DER), the fingerprint KeyFingerprint prints for it.
const IntelSGXRootCAKeySHA256 = "a0af031289f5d5d4132f9186068a7fc13628633ba235777472e29b6b6c67a49e"

// IntelRootPublicKey returns the pinned Intel SGX Root CA key.
func IntelRootPublicKey() *ecdsa.PublicKey { return intelRoot }

var intelRoot = func() *ecdsa.PublicKey {
	b, err := hex.DecodeString(IntelSGXRootCAPublicKey)
	if err != nil {
		panic(err) // a constant: covered by TestIntelRootKey
	}
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b)
	if err != nil {
		panic(err)
	}
	return k
}()

// KeyFingerprint returns the SHA-256 of a public key's SubjectPublicKeyInfo
// in hex (what `openssl pkey -pubin -outform DER | sha256sum` prints).
func KeyFingerprint(pub *ecdsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Sprintf("(unencodable key: %v)", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
