/* SHA-256 over whole blocks (runtime/lib/sha256blk.c): the portable and the
 * SHA-NI compression against BearSSL, for messages of 0 to 40 blocks and
 * block runs split in every way. */
#include <bearssl.h>
#include <string.h>

#include "sha256blk.h"
#include "testutil.h"

static void ref(const uint8_t *m, size_t nblocks, uint8_t out[32])
{
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, m, nblocks * 64);
	br_sha256_out(&h, out);
}

int main(void)
{
	enum { MAX = 40 };
	static uint8_t m[MAX * 64];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof m; i++) {
		x = x * 1103515245 + 12345;
		m[i] = (uint8_t)(x >> 16);
	}
	int ni = sha256blk_cpu_has_shani();
	printf("SHA extensions: %s\n", ni ? "yes (both compressions tested)" : "no (portable compression only)");
	for (size_t n = 0; n <= MAX; n++) {
		uint8_t want[32], got[32];
		ref(m, n, want);
		for (int use = 0; use <= ni; use++) {
			struct sha256blk c;
			sha256blk_init(&c, use);
			CHECK(c.shani == use);
			/* in runs of 1, 2, 3, ... blocks */
			size_t done = 0;
			for (size_t run = 1; done < n; run++) {
				size_t k = run < n - done ? run : n - done;
				sha256blk_add(&c, m + done * 64, k);
				done += k;
			}
			sha256blk_final(&c, got);
			CHECK_MSG(memcmp(got, want, 32) == 0, "%zu blocks, shani %d", n, use);
		}
	}
	/* One-shot hashes of every length around the padding boundaries, and
	 * longer ones */
	for (size_t n = 0; n <= sizeof m; n += n < 200 ? 1 : 97) {
		uint8_t want[32], got[32];
		br_sha256_context h;
		br_sha256_init(&h);
		br_sha256_update(&h, m, n);
		br_sha256_out(&h, want);
		sha256blk_hash(m, n, got);
		CHECK_MSG(memcmp(got, want, 32) == 0, "sha256blk_hash of %zu bytes", n);
	}
	/* The empty message: e3b0c442... */
	struct sha256blk c;
	uint8_t got[32];
	sha256blk_init(&c, 1);
	sha256blk_final(&c, got);
	CHECK(got[0] == 0xe3 && got[1] == 0xb0 && got[31] == 0x55);
	return test_summary("test_sha256blk");
}
