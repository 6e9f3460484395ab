/* Protected FS image reader, format versions 1 and 2. Spec: docs/fsprotect.md.
 * Mirrors pkg/fsprotect (reader.go, format.go, compress.go): same checks,
 * same order. The versions differ, for a reader, only in the header (size,
 * salt, MAC position) and the HKDF labels; chunk nonces are taken from the
 * index. Version 2 images with header flag 0x1 store chunks LZ4-compressed
 * or as they are, as each chunk record says; a chunk is authenticated
 * before LZ4_decompress_safe (Debian's liblz4.a; no allocation) sees it;
 * with codec 2 the blocks refer to the image dictionary, which the
 * authenticated index carries after its strings. */
#include "fsp.h"
#include "gcmni.h"
#include "sha256blk.h"

#include <bearssl.h>
#include <limits.h>
#include <lz4.h>
#include <string.h>

#include "rt_alloc.h"

#define PREAMBLE_SIZE 16u
#define HEADER_SIZE_V1 192u
#define HEADER_SIZE_V2 256u
#define HEADER_SIZE_MAX HEADER_SIZE_V2
#define HEADER_AAD_SIZE 64u
#define TAG_SIZE 16u
#define NONCE_SIZE 12u
#define CHUNK_REC 28u
/* Chunk records of images with compression: nonce | tag | u32 stored | u64
 * offset. stored: bits 0..20 the stored length, bit 31 LZ4-compressed, the
 * other bits zero. */
#define CHUNK_REC_Z 40u
#define STORED_COMP 0x80000000u
#define STORED_LEN 0x1fffffu
#define FLAG_COMPRESSION 1u
#define CODEC_LZ4 1u
#define CODEC_LZ4_DICT 2u /* LZ4 blocks against the image dictionary (in the index) */
#define MAX_DICT 65536u
/* Codec 2 decodes into one of these buffers, each the dictionary followed
 * by a chunk: with the dictionary just before the output, liblz4 takes its
 * prefix path, 2.2x faster than with the dictionary elsewhere (3.7 against
 * 1.7 GB/s on nginx's chunks). A reader that finds them all busy decodes
 * the slow way. */
#define DICT_SLOTS 4

struct dict_slot {
	int busy;
	uint8_t *buf; /* dictionary | chunk; NULL if it could not be allocated */
};
#define INODE_REC 96u
#define DIRENT_REC 12u
#define XATTR_REC 16u
#define INDEX_HDR 40u
#define MIN_LOG2 12u
#define MAX_LOG2 20u
#define MAX_NAME 255u
#define MAX_TARGET 4096u

#define S_IFMT_ 0170000u

static const char magic[8] = {'S', 'C', 'O', 'N', 'E', 'F', 'S', 'P'};
static const char index_magic[8] = {'F', 'S', 'P', 'I', 'N', 'D', 'E', 'X'};
static const uint32_t type_ifmt[7] = {0, 0100000u, 0040000u, 0120000u, 0020000u, 0060000u, 0010000u};

union aes_ctr_keys {
	const br_block_ctr_class *vtable;
	br_aes_x86ni_ctr_keys ni;
	br_aes_ct64_ctr_keys ct64;
};

struct fsp {
	uint64_t img_len;
	const uint8_t *img;
	uint32_t log2, chunk_size;
	uint32_t rec_size; /* CHUNK_REC, or CHUNK_REC_Z with compression */
	int compressed;	   /* header flag 0x1: records carry stored forms */
	int with_dict;	   /* codec 2: the index ends with the image dictionary */
	uint64_t data_off, data_end;
	uint8_t root[32];
	uint8_t *index; /* decrypted index, private memory */
	uint64_t index_len;
	uint32_t ninodes, ndirents, nxattrs;
	uint64_t nchunks, nstrs;
	const uint8_t *inodes, *dirents, *xattrs, *chunks, *strs;
	const uint8_t *dict; /* codec 2: the image dictionary, after the strings */
	uint32_t dict_len;
	struct dict_slot *slots;    /* codec 2: DICT_SLOTS decoding buffers */
	union aes_ctr_keys content; /* AES-256 CTR subkeys of the content key */
	br_ghash ghash;
	/* GCM over content after br_gcm_init (the hash key H = E(0) computed
	 * once): copied per chunk. It points at content, which the CTR runs
	 * only read, so concurrent readers share nothing mutable. */
	br_gcm_context content_gcm;
	/* With AES-NI and PCLMULQDQ, chunks are opened by gcmni in one pass
	 * straight from the image (each byte read once), not copied first. */
	int use_ni;
	struct gcmni_key ni;
};

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

/* memset that the compiler may not drop (the barrier makes the zeroed
 * memory observable). */
static void wipe(void *p, size_t n)
{
	memset(p, 0, n);
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/* HKDF-SHA-256 of the FS key with info "scone-fsp v<version> <name>". */
static void hkdf(const uint8_t key[32], uint32_t version, const char *name, uint8_t *out, size_t n)
{
	char label[64] = "scone-fsp v";
	size_t l = strlen(label), nl = strlen(name);
	label[l++] = (char)('0' + version); /* versions 1..9 */
	label[l++] = ' ';
	if (nl > sizeof label - l)
		nl = sizeof label - l;
	memcpy(label + l, name, nl);
	br_hkdf_context hc;
	br_hkdf_init(&hc, &br_sha256_vtable, BR_HKDF_NO_SALT, 0);
	br_hkdf_inject(&hc, key, 32);
	br_hkdf_flip(&hc);
	br_hkdf_produce(&hc, label, l + nl, out, n);
	wipe(&hc, sizeof hc);
}

static uint32_t header_size(uint32_t version) { return version == 1 ? HEADER_SIZE_V1 : HEADER_SIZE_V2; }

static void aes_ctr_init(union aes_ctr_keys *k, const uint8_t key[32])
{
	const br_block_ctr_class *vt = br_aes_x86ni_ctr_get_vtable();
	if (vt != NULL)
		br_aes_x86ni_ctr_init(&k->ni, key, 32);
	else
		br_aes_ct64_ctr_init(&k->ct64, key, 32);
}

static br_ghash ghash_impl(void)
{
	br_ghash g = br_ghash_pclmul_get();
	return g != 0 ? g : &br_ghash_ctmul64;
}

/* GCM-decrypts data[0..len) in place with a copy of the initialised
 * context init and checks the tag. On failure the buffer is wiped. Returns
 * 1 if authentic. */
static int gcm_open_with(const br_gcm_context *init, const uint8_t nonce[12], const uint8_t *aad, size_t aad_len,
			 uint8_t *data, size_t len, const uint8_t tag[16])
{
	br_gcm_context gc = *init;
	br_gcm_reset(&gc, nonce, NONCE_SIZE);
	br_gcm_aad_inject(&gc, aad, aad_len);
	br_gcm_flip(&gc);
	br_gcm_run(&gc, 0, data, len);
	int ok = (int)br_gcm_check_tag(&gc, tag);
	if (!ok)
		wipe(data, len);
	wipe(&gc, sizeof gc);
	return ok;
}

/* The same with keys of their own (the index key: once per image). */
static int gcm_open(const union aes_ctr_keys *keys, br_ghash gh, const uint8_t nonce[12], const uint8_t *aad,
		    size_t aad_len, uint8_t *data, size_t len, const uint8_t tag[16])
{
	union aes_ctr_keys k = *keys;
	br_gcm_context gc;
	br_gcm_init(&gc, &k.vtable, gh);
	int ok = gcm_open_with(&gc, nonce, aad, aad_len, data, len, tag);
	wipe(&k, sizeof k);
	wipe(&gc, sizeof gc);
	return ok;
}

/* ---- index accessors (the index is validated at open) ---- */

static const uint8_t *inode_at(const struct fsp *f, uint32_t ino) { return f->inodes + (size_t)(ino - 1) * INODE_REC; }
#define I_TYPE(p) get32((p) + 0)
#define I_MODE(p) get32((p) + 4)
#define I_UID(p) get32((p) + 8)
#define I_GID(p) get32((p) + 12)
#define I_NLINK(p) get32((p) + 16)
#define I_MAJOR(p) get32((p) + 20)
#define I_MINOR(p) get32((p) + 24)
#define I_NSEC(p) get32((p) + 28)
#define I_MTIME(p) get64((p) + 32)
#define I_SIZE(p) get64((p) + 40)
#define I_DATA(p) get64((p) + 48)
#define I_CHUNK(p) get64((p) + 56)
#define I_XFIRST(p) get32((p) + 64)
#define I_XCOUNT(p) get32((p) + 68)
#define I_TOFF(p) get32((p) + 72)
#define I_TLEN(p) get32((p) + 76)
#define I_CFIRST(p) get32((p) + 80)
#define I_CCOUNT(p) get32((p) + 84)
#define I_PARENT(p) get32((p) + 88)

static int name_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	size_t n = al < bl ? al : bl;
	int c = memcmp(a, b, n);
	if (c != 0)
		return c;
	return al < bl ? -1 : al > bl ? 1 : 0;
}

static int str_ok(const struct fsp *f, uint32_t off, uint32_t len) { return (uint64_t)off + len <= f->nstrs; }

static int has_byte(const uint8_t *p, size_t n, uint8_t c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == c)
			return 1;
	return 0;
}

static uint64_t chunk_count(uint64_t size, uint32_t log2)
{
	return (size >> log2) + ((size & ((1u << log2) - 1)) != 0);
}

/* With compression: checks the stored forms of file in's n chunk records
 * from record first (checkStored in format.go): only the length and the
 * compressed bit are set, a raw chunk keeps its plaintext length, a
 * compressed one is shorter, and the chunks lie end to end from the inode's
 * data offset inside the data region. Returns 1 when they do. */
static int stored_ok(const struct fsp *f, const uint8_t *in, uint64_t first, uint64_t n)
{
	uint64_t size = I_SIZE(in), pos = I_DATA(in);
	for (uint64_t k = 0; k < n; k++) {
		const uint8_t *rec = f->chunks + (size_t)(first + k) * CHUNK_REC_Z;
		uint32_t st = get32(rec + CHUNK_REC);
		uint64_t off = get64(rec + CHUNK_REC + 4), ln = st & STORED_LEN;
		uint64_t plain = size - (k << f->log2);
		if (plain > f->chunk_size)
			plain = f->chunk_size;
		if ((st & ~(STORED_COMP | STORED_LEN)) != 0)
			return 0;
		if ((st & STORED_COMP) == 0 ? ln != plain : (ln == 0 || ln >= plain))
			return 0;
		if (off != pos || ln > f->data_end - pos)
			return 0;
		pos += ln;
	}
	return 1;
}

/* Validates the decrypted index: the same rules as parseIndex in format.go. */
static int parse_index(struct fsp *f)
{
	const uint8_t *b = f->index;
	uint64_t len = f->index_len;
	if (len < INDEX_HDR || memcmp(b, index_magic, 8) != 0)
		return -FSP_EFORMAT;
	uint64_t ni = get32(b + 8), nd = get32(b + 12), nx = get32(b + 16);
	/* the dictionary length: reserved (0) unless codec 2 */
	uint64_t dl = get32(b + 20);
	if (f->with_dict ? dl == 0 || dl > MAX_DICT : dl != 0)
		return -FSP_EFORMAT;
	uint64_t nc = get64(b + 24), ns = get64(b + 32);
	if (ni == 0)
		return -FSP_EFORMAT;
	uint64_t rest = len - INDEX_HDR;
	if (nc > rest / f->rec_size || ns > rest)
		return -FSP_EFORMAT;
	if (ni * INODE_REC + nd * DIRENT_REC + nx * XATTR_REC + nc * f->rec_size + ns + dl != rest)
		return -FSP_EFORMAT;
	f->ninodes = (uint32_t)ni;
	f->ndirents = (uint32_t)nd;
	f->nxattrs = (uint32_t)nx;
	f->nchunks = nc;
	f->nstrs = ns;
	f->inodes = b + INDEX_HDR;
	f->dirents = f->inodes + ni * INODE_REC;
	f->xattrs = f->dirents + nd * DIRENT_REC;
	f->chunks = f->xattrs + nx * XATTR_REC;
	f->strs = f->chunks + nc * f->rec_size;
	f->dict = dl != 0 ? f->strs + ns : NULL;
	f->dict_len = (uint32_t)dl;

	uint32_t *refs = rt_calloc((size_t)ni, sizeof *refs);
	if (refs == NULL)
		return -FSP_ENOMEM;
	int rc = -FSP_EFORMAT;
	uint32_t next_dirent = 0, next_xattr = 0;
	uint64_t next_chunk = 0;
	for (uint32_t ino = 1; ino <= ni; ino++) {
		const uint8_t *in = inode_at(f, ino);
		uint32_t typ = I_TYPE(in), mode = I_MODE(in);
		if (typ < FSP_T_FILE || typ > FSP_T_FIFO)
			goto out;
		if ((mode & S_IFMT_) != type_ifmt[typ] || (mode & ~(S_IFMT_ | 07777u)) != 0)
			goto out;
		if (I_NLINK(in) == 0 || I_NSEC(in) >= 1000000000u || get32(in + 92) != 0)
			goto out;
		if (typ != FSP_T_CHR && typ != FSP_T_BLK && (I_MAJOR(in) | I_MINOR(in)) != 0)
			goto out;
		uint32_t xf = I_XFIRST(in), xc = I_XCOUNT(in);
		if (xf != next_xattr || (uint64_t)xf + xc > nx)
			goto out;
		for (uint32_t j = xf; j < xf + xc; j++) {
			const uint8_t *a = f->xattrs + (size_t)j * XATTR_REC;
			uint32_t no = get32(a), nl = get32(a + 4), vo = get32(a + 8), vl = get32(a + 12);
			if (nl == 0 || nl > MAX_NAME || !str_ok(f, no, nl) || !str_ok(f, vo, vl))
				goto out;
			if (has_byte(f->strs + no, nl, 0))
				goto out;
			if (j > xf) {
				const uint8_t *pa = a - XATTR_REC;
				if (name_cmp(f->strs + get32(pa), get32(pa + 4), f->strs + no, nl) >= 0)
					goto out;
			}
		}
		next_xattr += xc;
		if (typ != FSP_T_SYMLINK && (I_TOFF(in) | I_TLEN(in)) != 0)
			goto out;
		if (typ != FSP_T_DIR && (I_CFIRST(in) | I_CCOUNT(in) | I_PARENT(in)) != 0)
			goto out;
		if (typ != FSP_T_FILE && (I_DATA(in) | I_CHUNK(in)) != 0)
			goto out;
		uint64_t size = I_SIZE(in);
		switch (typ) {
		case FSP_T_FILE: {
			uint64_t n = chunk_count(size, f->log2);
			if (size > (uint64_t)INT64_MAX || I_CHUNK(in) != next_chunk || n > nc - next_chunk)
				goto out;
			uint64_t d = I_DATA(in);
			if (f->compressed) {
				if (size > 0 && (d < f->data_off || d > f->data_end))
					goto out;
				if (!stored_ok(f, in, next_chunk, n))
					goto out;
			} else if (size > 0 && (d < f->data_off || d > f->data_end || size > f->data_end - d))
				goto out;
			next_chunk += n;
			if (size == 0 && d != 0)
				goto out;
			break;
		}
		case FSP_T_SYMLINK: {
			uint32_t to = I_TOFF(in), tl = I_TLEN(in);
			if (tl == 0 || tl > MAX_TARGET || !str_ok(f, to, tl) || tl != size)
				goto out;
			if (has_byte(f->strs + to, tl, 0))
				goto out;
			break;
		}
		case FSP_T_DIR: {
			uint32_t cf = I_CFIRST(in), cc = I_CCOUNT(in), par = I_PARENT(in);
			if (size != 0 || cf != next_dirent || (uint64_t)cf + cc > nd)
				goto out;
			next_dirent += cc;
			if (par == 0 || par > ni || I_TYPE(inode_at(f, par)) != FSP_T_DIR)
				goto out;
			if ((ino == FSP_ROOT_INO) != (par == ino))
				goto out;
			for (uint32_t j = cf; j < cf + cc; j++) {
				const uint8_t *d = f->dirents + (size_t)j * DIRENT_REC;
				uint32_t no = get32(d), nl = get32(d + 4), ci = get32(d + 8);
				if (nl == 0 || nl > MAX_NAME || !str_ok(f, no, nl))
					goto out;
				const uint8_t *nm = f->strs + no;
				if (has_byte(nm, nl, '/') || has_byte(nm, nl, 0) || (nl == 1 && nm[0] == '.') ||
				    (nl == 2 && nm[0] == '.' && nm[1] == '.'))
					goto out;
				if (j > cf) {
					const uint8_t *pd = d - DIRENT_REC;
					if (name_cmp(f->strs + get32(pd), get32(pd + 4), nm, nl) >= 0)
						goto out;
				}
				if (ci <= FSP_ROOT_INO || ci > ni)
					goto out;
				refs[ci - 1]++;
			}
			break;
		}
		default:
			if (size != 0)
				goto out;
		}
	}
	if (I_TYPE(inode_at(f, FSP_ROOT_INO)) != FSP_T_DIR)
		goto out;
	if (next_dirent != nd || next_xattr != nx || next_chunk != nc)
		goto out;
	for (uint32_t ino = 1; ino <= ni; ino++) {
		const uint8_t *in = inode_at(f, ino);
		if (I_TYPE(in) != FSP_T_DIR) {
			if (refs[ino - 1] != I_NLINK(in))
				goto out;
			continue;
		}
		if (refs[ino - 1] != (ino == FSP_ROOT_INO ? 0u : 1u))
			goto out;
		uint32_t subdirs = 0, cf = I_CFIRST(in), cc = I_CCOUNT(in);
		for (uint32_t j = cf; j < cf + cc; j++) {
			uint32_t ci = get32(f->dirents + (size_t)j * DIRENT_REC + 8);
			const uint8_t *c = inode_at(f, ci);
			if (I_TYPE(c) == FSP_T_DIR) {
				subdirs++;
				if (I_PARENT(c) != ino)
					goto out;
			}
		}
		if (I_NLINK(in) != 2 + subdirs)
			goto out;
	}
	rc = 0;
out:
	rt_free(refs);
	return rc;
}

int fsp_open(struct fsp **out, const uint8_t *img, uint64_t img_len, const uint8_t key[FSP_KEY_LEN],
	     const uint8_t *expected_root)
{
	return fsp_open_flags(out, img, img_len, key, expected_root, 0);
}

int fsp_open_flags(struct fsp **out, const uint8_t *img, uint64_t img_len, const uint8_t key[FSP_KEY_LEN],
		   const uint8_t *expected_root, unsigned open_flags)
{
	uint8_t pre[PREAMBLE_SIZE], h[HEADER_SIZE_MAX];
	*out = NULL;
	if (img_len < PREAMBLE_SIZE)
		return -FSP_ETRUNC;
	memcpy(pre, img, PREAMBLE_SIZE);
	if (memcmp(pre, magic, 8) != 0)
		return -FSP_EFORMAT;
	uint32_t version = get32(pre + 8);
	if (version < FSP_VERSION_MIN || version > FSP_VERSION)
		return -FSP_EVERSION;
	if (get32(pre + 12) != 0)
		return -FSP_EFORMAT;
	uint32_t hs = header_size(version), mac_start = hs - 32;
	if (img_len < PREAMBLE_SIZE + hs)
		return -FSP_ETRUNC;
	memcpy(h, img + img_len - hs, hs);
	if (memcmp(h, magic, 8) != 0)
		return -FSP_ETRUNC;
	if (get32(h + 8) != version)
		return get32(h + 8) < FSP_VERSION_MIN || get32(h + 8) > FSP_VERSION ? -FSP_EVERSION : -FSP_EFORMAT;

	/* key check, header MAC */
	struct {
		uint8_t kcv[32], mac[32], idx[32], cont[32];
	} k;
	hkdf(key, version, "key check", k.kcv, 16);
	if (!ct_equal(k.kcv, h + 80, 16)) {
		wipe(&k, sizeof k);
		return -FSP_EKEY;
	}
	hkdf(key, version, "header mac", k.mac, 32);
	hkdf(key, version, "index key", k.idx, 32);
	hkdf(key, version, "content key", k.cont, 32);
	br_hmac_key_context hk;
	br_hmac_context hm;
	uint8_t mac[32];
	br_hmac_key_init(&hk, &br_sha256_vtable, k.mac, 32);
	br_hmac_init(&hm, &hk, 0);
	br_hmac_update(&hm, h, mac_start);
	br_hmac_out(&hm, mac);
	int rc;
	if (!ct_equal(mac, h + mac_start, 32)) {
		rc = -FSP_EAUTH;
		goto fail_keys;
	}

	/* layout (after the MAC: these fields are authentic) */
	uint32_t log2 = get32(h + 12);
	uint64_t image_size = get64(h + 16), data_off = get64(h + 24), data_len = get64(h + 32);
	uint64_t index_off = get64(h + 40), index_len = get64(h + 48), flags = get64(h + 56);
	rc = -FSP_EFORMAT;
	if (image_size > img_len) {
		rc = -FSP_ETRUNC;
		goto fail_keys;
	}
	/* flags: bit 0 (per-chunk compression, version 2) is the only one
	 * defined: refuse any other rather than misread. */
	if (image_size != img_len || log2 < MIN_LOG2 || log2 > MAX_LOG2 || (flags & ~(uint64_t)FLAG_COMPRESSION) != 0 ||
	    ((flags & FLAG_COMPRESSION) != 0 && version < 2) || get32(h + 76) != 0 || data_off != PREAMBLE_SIZE)
		goto fail_keys;
	if (version >= 2) {
		/* compression parameters: the codec byte (LZ4) with flag 0x1, the
		 * rest reserved */
		static const uint8_t zero[32];
		int comp = (flags & FLAG_COMPRESSION) != 0;
		if ((comp && h[192] != CODEC_LZ4 && h[192] != CODEC_LZ4_DICT) || (!comp && h[192] != 0) ||
		    memcmp(h + 193, zero, 31) != 0)
			goto fail_keys;
	}
	if (data_len > img_len || data_off + data_len != index_off)
		goto fail_keys;
	if (index_len < INDEX_HDR + INODE_REC + TAG_SIZE || index_len > img_len ||
	    index_off + index_len != img_len - hs)
		goto fail_keys;

	uint8_t root[32];
	br_sha256_context sc;
	br_sha256_init(&sc);
	br_sha256_update(&sc, h, hs);
	br_sha256_out(&sc, root);
	if (expected_root != NULL && !ct_equal(root, expected_root, 32)) {
		rc = -FSP_EROOT;
		goto fail_keys;
	}

	struct fsp *f = rt_calloc(1, sizeof *f);
	if (f == NULL) {
		rc = -FSP_ENOMEM;
		goto fail_keys;
	}
	f->img = img;
	f->img_len = img_len;
	f->log2 = log2;
	f->chunk_size = 1u << log2;
	f->compressed = (flags & FLAG_COMPRESSION) != 0;
	f->rec_size = f->compressed ? CHUNK_REC_Z : CHUNK_REC;
	f->with_dict = f->compressed && h[192] == CODEC_LZ4_DICT;
	f->data_off = data_off;
	f->data_end = index_off;
	memcpy(f->root, root, 32);
	f->index_len = index_len - TAG_SIZE;
	if (index_len > SIZE_MAX || (f->index = rt_malloc((size_t)index_len)) == NULL) {
		rc = -FSP_ENOMEM;
		goto fail_f;
	}
	/* Private copy first: the image memory may change under us. */
	memcpy(f->index, img + index_off, (size_t)index_len);
	uint8_t ih[32];
	sha256blk_hash(f->index, (size_t)index_len, ih); /* SHA-NI: the index of a large image is MBs */
	if (!ct_equal(ih, h + 128, 32)) {
		rc = -FSP_EAUTH;
		goto fail_f;
	}
	union aes_ctr_keys ik;
	aes_ctr_init(&ik, k.idx);
	f->ghash = ghash_impl();
	int ok = gcm_open(&ik, f->ghash, h + 64, h, HEADER_AAD_SIZE, f->index, (size_t)f->index_len,
			  f->index + f->index_len);
	wipe(&ik, sizeof ik);
	if (!ok) {
		rc = -FSP_EAUTH;
		goto fail_f;
	}
	rc = parse_index(f);
	if (rc != 0)
		goto fail_f;
	if (f->dict_len != 0) {
		if ((f->slots = rt_calloc(DICT_SLOTS, sizeof *f->slots)) == NULL) {
			rc = -FSP_ENOMEM;
			goto fail_f;
		}
		for (int i = 0; i < DICT_SLOTS; i++)
			if ((f->slots[i].buf = rt_malloc((size_t)f->dict_len + f->chunk_size)) != NULL)
				memcpy(f->slots[i].buf, f->dict, f->dict_len);
	}
	aes_ctr_init(&f->content, k.cont);
	br_gcm_init(&f->content_gcm, &f->content.vtable, f->ghash);
	if ((f->use_ni = !(open_flags & FSP_OPEN_BEARSSL) && gcmni_cpu_ok()) != 0)
		gcmni_init(&f->ni, k.cont);
	wipe(&k, sizeof k);
	wipe(&hk, sizeof hk);
	wipe(&hm, sizeof hm);
	*out = f;
	return 0;
fail_f:
	fsp_close(f);
fail_keys:
	wipe(&k, sizeof k);
	wipe(&hk, sizeof hk);
	wipe(&hm, sizeof hm);
	return rc;
}

void fsp_close(struct fsp *f)
{
	if (f == NULL)
		return;
	if (f->index != NULL) {
		wipe(f->index, (size_t)f->index_len + TAG_SIZE);
		rt_free(f->index);
	}
	if (f->slots != NULL) {
		for (int i = 0; i < DICT_SLOTS; i++)
			if (f->slots[i].buf != NULL) {
				wipe(f->slots[i].buf, (size_t)f->dict_len + f->chunk_size);
				rt_free(f->slots[i].buf);
			}
		rt_free(f->slots);
	}
	wipe(f, sizeof *f);
	rt_free(f);
}

void fsp_root_hash(const struct fsp *f, uint8_t out[FSP_ROOT_LEN]) { memcpy(out, f->root, FSP_ROOT_LEN); }
uint32_t fsp_root_ino(const struct fsp *f)
{
	(void)f;
	return FSP_ROOT_INO;
}
uint32_t fsp_chunk_size(const struct fsp *f) { return f->chunk_size; }

static const uint8_t *get_inode(const struct fsp *f, uint32_t ino)
{
	if (ino == 0 || ino > f->ninodes)
		return NULL;
	return inode_at(f, ino);
}

int fsp_lookup(const struct fsp *f, uint32_t dir_ino, const char *name, size_t namelen, uint32_t *ino)
{
	const uint8_t *d = get_inode(f, dir_ino);
	if (d == NULL)
		return -FSP_ENOENT;
	if (I_TYPE(d) != FSP_T_DIR)
		return -FSP_ENOTDIR;
	if (namelen > MAX_NAME)
		return -FSP_ENAMETOOLONG;
	if (has_byte((const uint8_t *)name, namelen, '/') || has_byte((const uint8_t *)name, namelen, 0))
		return -FSP_EINVAL;
	if (namelen == 0 || (namelen == 1 && name[0] == '.')) {
		*ino = dir_ino;
		return 0;
	}
	if (namelen == 2 && name[0] == '.' && name[1] == '.') {
		*ino = I_PARENT(d);
		return 0;
	}
	uint32_t lo = I_CFIRST(d), hi = lo + I_CCOUNT(d);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const uint8_t *e = f->dirents + (size_t)mid * DIRENT_REC;
		int c = name_cmp(f->strs + get32(e), get32(e + 4), (const uint8_t *)name, namelen);
		if (c == 0) {
			*ino = get32(e + 8);
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -FSP_ENOENT;
}

int fsp_stat(const struct fsp *f, uint32_t ino, struct fsp_stat *st)
{
	const uint8_t *in = get_inode(f, ino);
	if (in == NULL)
		return -FSP_ENOENT;
	memset(st, 0, sizeof *st);
	st->ino = ino;
	st->type = I_TYPE(in);
	st->mode = I_MODE(in);
	st->uid = I_UID(in);
	st->gid = I_GID(in);
	st->nlink = I_NLINK(in);
	st->size = I_SIZE(in);
	st->mtime_sec = (int64_t)I_MTIME(in);
	st->mtime_nsec = I_NSEC(in);
	st->rdev_major = I_MAJOR(in);
	st->rdev_minor = I_MINOR(in);
	st->blksize = f->chunk_size;
	st->blocks = (st->size + 511) / 512;
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Decodes the LZ4 block src[0:ln] against the image dictionary: through
 * a free dictionary slot (the fast prefix path), then one copy into out,
 * or into direct when that is not NULL (the caller's buffer, which wants
 * the whole chunk: a copy less); else with the dictionary where it is,
 * into out. *where says which got the plaintext: only a block that
 * decoded reaches direct. Returns LZ4's result. */
static int decode_dict(const struct fsp *f, const uint8_t *src, size_t ln, uint8_t *out, size_t n, uint8_t *direct,
		       uint8_t **where)
{
	*where = out;
	for (int i = 0; i < DICT_SLOTS; i++) {
		struct dict_slot *s = &f->slots[i];
		if (s->buf == NULL || __atomic_exchange_n(&s->busy, 1, __ATOMIC_ACQUIRE) != 0)
			continue;
		uint8_t *o = s->buf + f->dict_len;
		int got = LZ4_decompress_safe_usingDict((const char *)src, (char *)o, (int)ln, (int)n,
							(const char *)s->buf, (int)f->dict_len);
		if (got == (int)n) {
			if (direct != NULL)
				*where = direct;
			memcpy(*where, o, n);
		} else {
			wipe(o, n);
		}
		__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
		return got;
	}
	return LZ4_decompress_safe_usingDict((const char *)src, (char *)out, (int)ln, (int)n, (const char *)f->dict,
					     (int)f->dict_len);
}

/* Opens a chunk's stored bytes src[0:n] (in the image, which the host may
 * change under us) into priv with its record rec (nonce, tag): each byte
 * of src is read once, so what is authenticated is what is decrypted. 1
 * when authentic, else 0 with priv[0:n] wiped. */
static int open_chunk(const struct fsp *f, const uint8_t *rec, const uint8_t *aad, size_t aad_len, const uint8_t *src,
		      uint8_t *priv, size_t n)
{
	if (f->use_ni)
		return gcmni_open(&f->ni, rec, aad, aad_len, src, priv, n, rec + NONCE_SIZE);
	memcpy(priv, src, n); /* BearSSL's two passes read it twice: a private copy first */
	return gcm_open_with(&f->content_gcm, rec, aad, aad_len, priv, n, rec + NONCE_SIZE);
}

/* Authenticates and decrypts chunk i of file inode in into priv: private
 * memory (never the caller's buffer) of at least a chunk (two with
 * compression). The stored bytes are read from the image once (the host
 * may change the image under us: open_chunk), decrypted and checked;
 * only an authentic LZ4 block is decompressed, into the second chunk of
 * priv. Sets *plain to the plaintext. Returns the chunk length, or
 * -FSP_EAUTH (priv wiped), -FSP_EFORMAT (an authentic block that does not
 * decode to the chunk: priv wiped). direct, when not NULL, is where the
 * caller wants the whole chunk: a block decoded against the dictionary in
 * a slot is copied there (*plain == direct), only once it decoded. */
static long read_chunk(const struct fsp *f, const uint8_t *in, uint64_t i, uint8_t *priv, uint8_t **plain,
		       uint8_t *direct)
{
	uint64_t size = I_SIZE(in), start = i << f->log2;
	size_t n = (size_t)(size - start < f->chunk_size ? size - start : f->chunk_size);
	const uint8_t *rec = f->chunks + (size_t)(I_CHUNK(in) + i) * f->rec_size;
	*plain = priv;
	if (!f->compressed) {
		uint8_t aad[16];
		put64(aad, i);
		put64(aad + 8, size);
		if (!open_chunk(f, rec, aad, sizeof aad, f->img + I_DATA(in) + start, priv, n))
			return -FSP_EAUTH;
		return (long)n;
	}
	uint32_t st = get32(rec + CHUNK_REC);
	size_t ln = st & STORED_LEN; /* <= n: checked at open */
	uint8_t aad[20];
	put64(aad, i);
	put64(aad + 8, size);
	put32(aad + 16, st);
	if (!open_chunk(f, rec, aad, sizeof aad, f->img + get64(rec + CHUNK_REC + 4), priv, ln))
		return -FSP_EAUTH;
	if ((st & STORED_COMP) == 0)
		return (long)n;
	uint8_t *out = priv + f->chunk_size, *where = out;
	int got = f->dict_len != 0 ? decode_dict(f, priv, ln, out, n, direct, &where) :
				     LZ4_decompress_safe((const char *)priv, (char *)out, (int)ln, (int)n);
	if (got != (int)n) {
		wipe(priv, ln);
		wipe(out, n);
		return -FSP_EFORMAT;
	}
	*plain = where;
	return (long)n;
}

/* Chunks up to this size are decrypted in a stack buffer of fsp_pread (the
 * runtime calls it on a 256 KiB signal stack; images with compression use
 * two chunks of it); larger ones in one rt_malloc per call. */
#define STACK_CHUNK 4096u

long fsp_pread(const struct fsp *f, uint32_t ino, void *buf, uint64_t len, uint64_t off)
{
	const uint8_t *in = get_inode(f, ino);
	if (in == NULL)
		return -FSP_ENOENT;
	if (I_TYPE(in) == FSP_T_DIR)
		return -FSP_EISDIR;
	if (I_TYPE(in) != FSP_T_FILE)
		return -FSP_EINVAL;
	uint64_t size = I_SIZE(in);
	if (off >= size || len == 0)
		return 0;
	if (len > size - off)
		len = size - off;
	if (len > (uint64_t)LONG_MAX)
		len = (uint64_t)LONG_MAX & ~((uint64_t)f->chunk_size - 1);
	/* Finding 8c: decrypt into private memory, copy out only what
	 * authenticated; a failed chunk leaves buf as it was. */
	uint8_t stack_chunk[2 * STACK_CHUNK];
	uint8_t *priv = stack_chunk;
	size_t need = (size_t)f->chunk_size * (f->compressed ? 2 : 1);
	if (need > sizeof stack_chunk && (priv = rt_malloc(need)) == NULL)
		return -FSP_ENOMEM;
	uint8_t *out = buf;
	uint64_t done = 0;
	size_t used = 0; /* bytes of priv that held plaintext */
	int partial = 0; /* priv held plaintext the caller did not ask for */
	long rc = 0;
	while (done < len) {
		uint64_t pos = off + done, i = pos >> f->log2;
		uint64_t within = pos - (i << f->log2);
		uint8_t *plain;
		/* a read that covers the whole chunk may get it directly */
		uint64_t clen = size - (i << f->log2) < f->chunk_size ? size - (i << f->log2) : f->chunk_size;
		uint8_t *direct = within == 0 && len - done >= clen ? out + done : NULL;
		long n = read_chunk(f, in, i, priv, &plain, direct);
		if (n < 0) {
			rc = n;
			break;
		}
		/* with compression the decrypted block stays in priv's first
		 * chunk, the plaintext in its second: both are wiped below
		 * when the caller did not want all of them. A chunk decoded
		 * straight into buf was wanted whole: what it left in priv
		 * is the caller's anyway and is not counted. */
		if (plain != out + done && (size_t)(plain - priv) + (size_t)n > used)
			used = (size_t)(plain - priv) + (size_t)n;
		uint64_t take = (uint64_t)n - within;
		if (take > len - done)
			take = len - done;
		partial |= take != (uint64_t)n;
		if (plain != out + done)
			memcpy(out + done, plain + within, (size_t)take);
		done += take;
	}
	/* What the caller got it has anyway; wipe the rest of a chunk it did
	 * not ask for (a failed chunk is wiped by gcm_open). */
	if (partial)
		wipe(priv, used);
	if (priv != stack_chunk)
		rt_free(priv);
	return rc < 0 ? rc : (long)done;
}

long fsp_readlink(const struct fsp *f, uint32_t ino, char *buf, uint64_t len)
{
	const uint8_t *in = get_inode(f, ino);
	if (in == NULL)
		return -FSP_ENOENT;
	if (I_TYPE(in) != FSP_T_SYMLINK)
		return -FSP_EINVAL;
	uint64_t n = I_TLEN(in);
	if (n > len)
		n = len;
	memcpy(buf, f->strs + I_TOFF(in), (size_t)n);
	return (long)n;
}

int fsp_readdir(const struct fsp *f, uint32_t dir_ino, uint64_t *cookie, uint32_t *ino, char *name, size_t namecap,
		uint32_t *type)
{
	const uint8_t *d = get_inode(f, dir_ino);
	if (d == NULL)
		return -FSP_ENOENT;
	if (I_TYPE(d) != FSP_T_DIR)
		return -FSP_ENOTDIR;
	if (*cookie >= I_CCOUNT(d))
		return 0;
	const uint8_t *e = f->dirents + ((size_t)I_CFIRST(d) + (size_t)*cookie) * DIRENT_REC;
	uint32_t nl = get32(e + 4);
	if (namecap < (size_t)nl + 1)
		return -FSP_ERANGE;
	memcpy(name, f->strs + get32(e), nl);
	name[nl] = 0;
	*ino = get32(e + 8);
	*type = I_TYPE(inode_at(f, *ino));
	(*cookie)++;
	return 1;
}

long fsp_getxattr(const struct fsp *f, uint32_t ino, const char *name, size_t namelen, void *val, size_t cap)
{
	const uint8_t *in = get_inode(f, ino);
	if (in == NULL)
		return -FSP_ENOENT;
	uint32_t lo = I_XFIRST(in), hi = lo + I_XCOUNT(in);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const uint8_t *a = f->xattrs + (size_t)mid * XATTR_REC;
		int c = name_cmp(f->strs + get32(a), get32(a + 4), (const uint8_t *)name, namelen);
		if (c == 0) {
			uint32_t vl = get32(a + 12);
			if (cap == 0)
				return (long)vl;
			if (cap < vl)
				return -FSP_ERANGE;
			memcpy(val, f->strs + get32(a + 8), vl);
			return (long)vl;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -FSP_ENODATA;
}

long fsp_listxattr(const struct fsp *f, uint32_t ino, char *buf, size_t cap)
{
	const uint8_t *in = get_inode(f, ino);
	if (in == NULL)
		return -FSP_ENOENT;
	uint64_t need = 0;
	uint32_t xf = I_XFIRST(in), xc = I_XCOUNT(in);
	for (uint32_t j = xf; j < xf + xc; j++)
		need += (uint64_t)get32(f->xattrs + (size_t)j * XATTR_REC + 4) + 1;
	if (cap == 0)
		return (long)need;
	if (cap < need)
		return -FSP_ERANGE;
	size_t p = 0;
	for (uint32_t j = xf; j < xf + xc; j++) {
		const uint8_t *a = f->xattrs + (size_t)j * XATTR_REC;
		memcpy(buf + p, f->strs + get32(a), get32(a + 4));
		p += get32(a + 4);
		buf[p++] = 0;
	}
	return (long)need;
}

const char *fsp_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case FSP_OK:
		return "success";
	case FSP_EAUTH:
		return "authentication failed: image modified";
	case FSP_EKEY:
		return "wrong FS key";
	case FSP_ETRUNC:
		return "image truncated (or bytes appended)";
	case FSP_EVERSION:
		return "unknown image format version";
	case FSP_EFORMAT:
		return "not a protected FS image or malformed";
	case FSP_EROOT:
		return "image root hash differs from the expected root";
	case FSP_ENOENT:
		return "no such entry";
	case FSP_ENOTDIR:
		return "not a directory";
	case FSP_EISDIR:
		return "is a directory";
	case FSP_EINVAL:
		return "invalid argument";
	case FSP_ENOMEM:
		return "out of memory";
	case FSP_ERANGE:
		return "buffer too small";
	case FSP_ENODATA:
		return "no such attribute";
	case FSP_ENAMETOOLONG:
		return "name too long";
	}
	return "unknown error";
}
