/* TLS credentials from PEM text, decoded with BearSSL (br_pem_decoder,
 * br_x509_decoder, br_skey_decoder) for the network shield: a certificate
 * chain (the server's or the client's, leaf first), its private key (RSA,
 * or EC on P-256/P-384/P-521; PKCS#1, SEC 1 or PKCS#8, unencrypted) and
 * trust anchors (a CA bundle: every certificate of the file becomes an
 * anchor; a CA certificate anchors chains, a non-CA one is trusted as
 * itself).
 *
 * Portable: no libc, no globals, rt_malloc only; everything a parsed object
 * points to is owned by it (free with the matching *_free, which wipes key
 * material). Input that is not PEM, PEM objects of other kinds (a key in a
 * certificate file is skipped, not used) and malformed DER are refused. */
#ifndef SCONE_TLSCRED_H
#define SCONE_TLSCRED_H

#include <stddef.h>
#include <stdint.h>
#include <bearssl.h>

#define TLSCRED_MAX_CHAIN 16	 /* certificates in a chain */
#define TLSCRED_MAX_ANCHORS 1024 /* certificates in a CA bundle */

/* Error codes (negative). */
#define TLSCRED_OK 0
#define TLSCRED_EPEM (-1)     /* not PEM (bad armour or base64) */
#define TLSCRED_ENONE (-2)    /* no object of the wanted kind */
#define TLSCRED_ECERT (-3)    /* malformed certificate */
#define TLSCRED_EKEY (-4)     /* malformed or unsupported private key */
#define TLSCRED_ENOMEM (-5)   /* out of memory */
#define TLSCRED_ETOOMANY (-6) /* more than TLSCRED_MAX_CHAIN / _ANCHORS */
#define TLSCRED_EMISMATCH (-7)

struct tlscred_chain {
	br_x509_certificate *certs; /* leaf first, as the file lists them */
	size_t n;
	int key_type;	     /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC: the leaf's public key */
	int issuer_key_type; /* the key type of the leaf's signer (the next
				certificate's key; the leaf's own if alone) */
};

struct tlscred_key {
	int type; /* BR_KEYTYPE_RSA or BR_KEYTYPE_EC */
	br_rsa_private_key rsa;
	br_ec_private_key ec;
	unsigned char *buf; /* the key's bytes (both structs point here) */
	size_t len;
};

struct tlscred_anchors {
	br_x509_trust_anchor *ta;
	size_t n;
};

int tlscred_chain_parse(const uint8_t *pem, size_t len, struct tlscred_chain *out);
int tlscred_key_parse(const uint8_t *pem, size_t len, struct tlscred_key *out);
int tlscred_anchors_parse(const uint8_t *pem, size_t len, struct tlscred_anchors *out);
/* 0 when key is the private key of the chain's leaf, else TLSCRED_EMISMATCH. */
int tlscred_key_matches(const struct tlscred_chain *c, const struct tlscred_key *key);

void tlscred_chain_free(struct tlscred_chain *c);
void tlscred_key_free(struct tlscred_key *k);
void tlscred_anchors_free(struct tlscred_anchors *a);
const char *tlscred_strerror(int err);

#endif
