/* SIGSTRUCT parsing and RSA verification; see sigstruct.h and docs/enclave.md. */
#include <string.h>

#include <bearssl.h>

#include "sigstruct.h"

#define LIMBS (SIGSTRUCT_KEY_BYTES / 4) /* 96 x 32-bit limbs */

static const uint8_t header1[16] = {0x06, 0, 0, 0, 0xe1, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0};
static const uint8_t header2[16] = {0x01, 0x01, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0, 0x01, 0, 0, 0};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

int sigstruct_parse(const uint8_t *b, size_t len, struct sigstruct_info *out)
{
	if (b == NULL || out == NULL)
		return SIGSTRUCT_EINVAL;
	if (len != SIGSTRUCT_SIZE)
		return SIGSTRUCT_ESIZE;
	if (memcmp(b + SIGSTRUCT_OFF_HEADER, header1, 16) != 0 || memcmp(b + SIGSTRUCT_OFF_HEADER2, header2, 16) != 0)
		return SIGSTRUCT_EHEADER;
	if (le32(b + SIGSTRUCT_OFF_EXPONENT) != 3)
		return SIGSTRUCT_EEXPONENT;
	memset(out, 0, sizeof(*out));
	out->vendor = le32(b + SIGSTRUCT_OFF_VENDOR);
	out->date = le32(b + SIGSTRUCT_OFF_DATE);
	out->swdefined = le32(b + SIGSTRUCT_OFF_SWDEFINED);
	out->miscselect = le32(b + SIGSTRUCT_OFF_MISCSELECT);
	out->miscmask = le32(b + SIGSTRUCT_OFF_MISCMASK);
	out->attr_flags = le64(b + SIGSTRUCT_OFF_ATTRIBUTES);
	out->attr_xfrm = le64(b + SIGSTRUCT_OFF_ATTRIBUTES + 8);
	out->attrmask_flags = le64(b + SIGSTRUCT_OFF_ATTRIBUTEMASK);
	out->attrmask_xfrm = le64(b + SIGSTRUCT_OFF_ATTRIBUTEMASK + 8);
	out->isvprodid = (uint16_t)(b[SIGSTRUCT_OFF_ISVPRODID] | b[SIGSTRUCT_OFF_ISVPRODID + 1] << 8);
	out->isvsvn = (uint16_t)(b[SIGSTRUCT_OFF_ISVSVN] | b[SIGSTRUCT_OFF_ISVSVN + 1] << 8);
	memcpy(out->enclavehash, b + SIGSTRUCT_OFF_ENCLAVEHASH, 32);
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, b + SIGSTRUCT_OFF_MODULUS, SIGSTRUCT_KEY_BYTES);
	br_sha256_out(&h, out->mrsigner);
	return SIGSTRUCT_OK;
}

/* --- minimal 3072-bit arithmetic for the Q1/Q2 check --- */

static void load_limbs(uint32_t *x, const uint8_t *le_bytes)
{
	for (size_t i = 0; i < LIMBS; i++)
		x[i] = le32(le_bytes + 4 * i);
}

/* r[0:2n] = a[0:n] * b[0:n] */
static void mul(uint32_t *r, const uint32_t *a, const uint32_t *b, size_t n)
{
	memset(r, 0, 2 * n * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++) {
		uint64_t carry = 0;
		for (size_t j = 0; j < n; j++) {
			uint64_t t = (uint64_t)a[i] * b[j] + r[i + j] + carry;
			r[i + j] = (uint32_t)t;
			carry = t >> 32;
		}
		r[i + n] = (uint32_t)carry;
	}
}

/* compares a[0:n] and b[0:n] */
static int cmp(const uint32_t *a, const uint32_t *b, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	}
	return 0;
}

/* a[0:n] -= b[0:n]; requires a >= b */
static void sub(uint32_t *a, const uint32_t *b, size_t n)
{
	uint64_t borrow = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t t = (uint64_t)a[i] - b[i] - borrow;
		a[i] = (uint32_t)t;
		borrow = (t >> 32) & 1;
	}
}

/* Checks 0 <= x - q*n < n for x of 2*LIMBS limbs; leaves x - q*n in x. */
static int check_quot(uint32_t *x, const uint32_t *q, const uint32_t *n)
{
	uint32_t qn[2 * LIMBS];
	uint32_t n2[2 * LIMBS];
	mul(qn, q, n, LIMBS);
	if (cmp(x, qn, 2 * LIMBS) < 0)
		return 0;
	sub(x, qn, 2 * LIMBS);
	memset(n2, 0, sizeof(n2));
	memcpy(n2, n, LIMBS * sizeof(uint32_t));
	return cmp(x, n2, 2 * LIMBS) < 0;
}

static int check_q(const uint8_t *b)
{
	uint32_t s[LIMBS], n[LIMBS], q1[LIMBS], q2[LIMBS];
	uint32_t x[2 * LIMBS], r[LIMBS];
	load_limbs(s, b + SIGSTRUCT_OFF_SIGNATURE);
	load_limbs(n, b + SIGSTRUCT_OFF_MODULUS);
	load_limbs(q1, b + SIGSTRUCT_OFF_Q1);
	load_limbs(q2, b + SIGSTRUCT_OFF_Q2);
	/* Q1 = floor(S^2 / N): R = S^2 - Q1*N in [0, N) */
	mul(x, s, s, LIMBS);
	if (!check_quot(x, q1, n))
		return 0;
	memcpy(r, x, sizeof(r));
	/* Q2 = floor((S^3 - Q1*S*N) / N) = floor(S*R / N) */
	mul(x, s, r, LIMBS);
	return check_quot(x, q2, n);
}

int sigstruct_verify(const uint8_t *b, size_t len, struct sigstruct_info *out)
{
	struct sigstruct_info tmp;
	if (out == NULL)
		out = &tmp;
	int e = sigstruct_parse(b, len, out);
	if (e)
		return e;
	uint8_t n_be[SIGSTRUCT_KEY_BYTES], sig_be[SIGSTRUCT_KEY_BYTES];
	for (size_t i = 0; i < SIGSTRUCT_KEY_BYTES; i++) {
		n_be[i] = b[SIGSTRUCT_OFF_MODULUS + SIGSTRUCT_KEY_BYTES - 1 - i];
		sig_be[i] = b[SIGSTRUCT_OFF_SIGNATURE + SIGSTRUCT_KEY_BYTES - 1 - i];
	}
	if ((n_be[0] & 0x80) == 0) /* SGX needs a full 3072-bit modulus */
		return SIGSTRUCT_ESIG;
	uint8_t e3[1] = {3};
	br_rsa_public_key pk = {n_be, sizeof(n_be), e3, sizeof(e3)};

	uint8_t digest[32], recovered[32];
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, b, 128);
	br_sha256_update(&h, b + 900, 128);
	br_sha256_out(&h, digest);
	if (!br_rsa_i31_pkcs1_vrfy(sig_be, sizeof(sig_be), BR_HASH_OID_SHA256, sizeof(recovered), &pk, recovered))
		return SIGSTRUCT_ESIG;
	if (memcmp(recovered, digest, 32) != 0)
		return SIGSTRUCT_ESIG;
	if (!check_q(b))
		return SIGSTRUCT_EQ;
	return SIGSTRUCT_OK;
}

const char *sigstruct_strerror(int err)
{
	switch (err) {
	case SIGSTRUCT_OK:
		return "ok";
	case SIGSTRUCT_ESIZE:
		return "SIGSTRUCT is not 1808 bytes";
	case SIGSTRUCT_EHEADER:
		return "SIGSTRUCT header constants are wrong";
	case SIGSTRUCT_EEXPONENT:
		return "SIGSTRUCT exponent is not 3";
	case SIGSTRUCT_ESIG:
		return "SIGSTRUCT signature does not verify";
	case SIGSTRUCT_EQ:
		return "SIGSTRUCT Q1/Q2 do not match the signature";
	case SIGSTRUCT_EINVAL:
		return "invalid argument";
	default:
		return "unknown SIGSTRUCT error";
	}
}
