/* An ECDSA P-256 private key from a PEM file: "EC PRIVATE KEY" (SEC 1) or
 * "PRIVATE KEY" (PKCS#8), unencrypted: what `openssl ecparam -genkey` and
 * Go's x509.MarshalPKCS8PrivateKey/MarshalECPrivateKey write. The
 * simulation quote key (SCONE_SIM_QUOTE_KEY_FILE, docs/cas.md). BearSSL's
 * PEM and key decoders; no allocation; intermediate bytes are wiped. */
#ifndef SCONE_ECKEY_H
#define SCONE_ECKEY_H

#include <stddef.h>
#include <stdint.h>

#define ECKEY_MAX_FILE 16384

#define ECKEY_ENOPEM (-1)   /* no PEM block */
#define ECKEY_ETYPE (-2)    /* a PEM block of another type (certificate, RSA key, public key) */
#define ECKEY_EDECODE (-3)  /* the key inside does not decode */
#define ECKEY_ENOTEC (-4)   /* an RSA key */
#define ECKEY_ECURVE (-5)   /* an EC key on another curve than P-256 */
#define ECKEY_ETOOMANY (-6) /* more than one private key */

/* The 32-byte big-endian private scalar of the one P-256 private key in
 * pem[0:len]; 0 or an ECKEY_E* code. */
int eckey_parse_pem(const uint8_t *pem, size_t len, uint8_t priv[32]);
const char *eckey_strerror(int err);

#endif
