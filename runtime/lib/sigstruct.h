/* SIGSTRUCT parsing and RSA verification (sim EINIT).
 *
 * SIGSTRUCT is the 1808-byte SGX enclave signature structure (Intel SDM vol.
 * 3D, 38.14). The signed bytes are SIGSTRUCT[0:128] ++ SIGSTRUCT[900:1028],
 * signed with RSASSA-PKCS1-v1_5 / SHA-256, RSA-3072, e = 3; MODULUS,
 * SIGNATURE, Q1 and Q2 are little-endian. MRSIGNER = SHA-256 of the 384-byte
 * little-endian modulus. Verification uses BearSSL; no allocation, no global
 * state.
 */
#ifndef SCONE_SIGSTRUCT_H
#define SCONE_SIGSTRUCT_H

#include <stddef.h>
#include <stdint.h>

#define SIGSTRUCT_SIZE 1808u
#define SIGSTRUCT_KEY_BYTES 384u

/* Field offsets. */
#define SIGSTRUCT_OFF_HEADER 0u
#define SIGSTRUCT_OFF_VENDOR 16u
#define SIGSTRUCT_OFF_DATE 20u
#define SIGSTRUCT_OFF_HEADER2 24u
#define SIGSTRUCT_OFF_SWDEFINED 40u
#define SIGSTRUCT_OFF_MODULUS 128u
#define SIGSTRUCT_OFF_EXPONENT 512u
#define SIGSTRUCT_OFF_SIGNATURE 516u
#define SIGSTRUCT_OFF_MISCSELECT 900u
#define SIGSTRUCT_OFF_MISCMASK 904u
#define SIGSTRUCT_OFF_ATTRIBUTES 928u
#define SIGSTRUCT_OFF_ATTRIBUTEMASK 944u
#define SIGSTRUCT_OFF_ENCLAVEHASH 960u
#define SIGSTRUCT_OFF_ISVPRODID 1024u
#define SIGSTRUCT_OFF_ISVSVN 1026u
#define SIGSTRUCT_OFF_Q1 1040u
#define SIGSTRUCT_OFF_Q2 1424u

/* Error codes (0 on success). */
#define SIGSTRUCT_OK 0
#define SIGSTRUCT_ESIZE (-1)	 /* not 1808 bytes */
#define SIGSTRUCT_EHEADER (-2)	 /* HEADER/HEADER2 constants wrong */
#define SIGSTRUCT_EEXPONENT (-3) /* exponent is not 3 */
#define SIGSTRUCT_ESIG (-4)	 /* RSA signature does not verify */
#define SIGSTRUCT_EQ (-5)	 /* Q1/Q2 inconsistent with signature */
#define SIGSTRUCT_EINVAL (-6)

struct sigstruct_info {
	uint32_t vendor;
	uint32_t date; /* BCD 0xYYYYMMDD */
	uint32_t swdefined;
	uint32_t miscselect, miscmask;
	uint64_t attr_flags, attr_xfrm;
	uint64_t attrmask_flags, attrmask_xfrm;
	uint16_t isvprodid, isvsvn;
	uint8_t enclavehash[32];
	uint8_t mrsigner[32];
};

/* Parses the fields and checks the fixed headers and exponent; does not
 * check the signature. */
int sigstruct_parse(const uint8_t *buf, size_t len, struct sigstruct_info *out);

/* sigstruct_parse, then verifies the RSA signature over the signed bytes and
 * Q1/Q2 as EINIT does. out may be NULL. */
int sigstruct_verify(const uint8_t *buf, size_t len, struct sigstruct_info *out);

const char *sigstruct_strerror(int err);

#endif
