// Package casproto is the enclave protocol of the CAS, version 1
// (docs/cas.md, "Enclave protocol"): the binary "SCAS" messages the
// runtime and the CAS exchange, the REPORTDATA that binds a quote to a
// challenge nonce and a session key, and the sealing of the secrets to that
// session key.
//
// A message is
//
//	"SCAS" | version u16 = 1 | type u16 | records...
//	record: tag u16 | length u32 | value
//
// little-endian, at most MaxMessageSize bytes, records in ascending tag
// order. Three types exist: the attest request (AttestRequest), the attest
// response (AttestResponse) and the secrets (Secrets), the plaintext that
// the response carries sealed. Decoding is strict: an unknown tag, a
// record out of order, a duplicate, a missing required record, a value of
// the wrong size, trailing bytes or a message that is too large is refused
// with a *FormatError naming the offset (it wraps ErrFormat). Encoding
// (MarshalBinary) produces exactly the bytes the decoder accepts, so a
// decoded message re-encodes to the bytes it came from.
//
// Sealing: the CAS makes a fresh P-256 key e for each release, derives
// K = HKDF-SHA256(IKM = the x-coordinate of ECDH(e, P), salt = the nonce,
// info = "scone-cas secrets v1") and encrypts the secrets message with
// AES-256-GCM under K with a zero nonce (K is used once) and the policy
// hash as additional data. Only the holder of the session key's private
// half opens it (Open).
//
// testdata/casproto holds test vectors (fixed keys and nonces) that the
// runtime's C client reads as well; its README describes each file.
//
// The package never prints, exits or panics.
package casproto
