/* Codec comparison for the protected FS image's per-chunk compression
 * (issue 16, docs/fsprotect.md "Compression"): reads tar streams (the layers
 * of a real image, uncompressed) from stdin, cuts every regular file into
 * chunks as the packer does, compresses each chunk with LZ4 (fast, HC) and
 * zstd (levels 1, 3, 19; one-shot frames), stores a chunk that does not shrink
 * as is, and reports the stored size over the content size and the decode
 * throughput (plaintext bytes per second, best of 3 passes) with the
 * runtime's allocation-free entry points: LZ4_decompress_safe and
 * ZSTD_decompressDCtx on a context placed in a static buffer.
 *
 *   codec [chunk_size] < layers.tar
 */
#include <lz4.h>
#include <lz4hc.h>
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct chunk {
	unsigned char *stored[6];
	int slen[6];
	int raw[6];
	int n;
	const unsigned char *plain;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long long octal(const char *p, int n)
{
	unsigned long long v = 0;
	for (int i = 0; i < n && p[i]; i++)
		if (p[i] >= '0' && p[i] <= '7')
			v = v * 8 + (p[i] - '0');
	return v;
}

int main(int argc, char **argv)
{
	int cs = argc > 1 ? atoi(argv[1]) : 4096;
	size_t cap = 1 << 20, len = 0;
	unsigned char *in = malloc(cap);
	size_t r;
	while ((r = fread(in + len, 1, cap - len, stdin)) > 0) {
		len += r;
		if (len == cap)
			in = realloc(in, cap *= 2);
	}
	/* Collect file contents (typeflag '0' or NUL); blocks of 512. */
	size_t nch = 0, chcap = 1024;
	struct chunk *ch = malloc(chcap * sizeof *ch);
	unsigned long long total = 0;
	for (size_t off = 0; off + 512 <= len;) {
		const char *h = (const char *)in + off;
		if (h[0] == 0) { /* end-of-archive blocks between concatenated layers */
			off += 512;
			continue;
		}
		unsigned long long sz = octal(h + 124, 12);
		char t = h[156];
		off += 512;
		if ((t == '0' || t == 0) && sz > 0 && off + sz <= len) {
			for (unsigned long long o = 0; o < sz; o += cs) {
				if (nch == chcap)
					ch = realloc(ch, (chcap *= 2) * sizeof *ch);
				ch[nch].plain = in + off + o;
				ch[nch].n = (int)(sz - o < (unsigned long long)cs ? sz - o : (unsigned long long)cs);
				nch++;
			}
			total += sz;
		}
		off += (sz + 511) / 512 * 512;
	}
	const char *names[6] = {"lz4 (fast, acceleration 1)", "lz4hc level 9", "lz4hc level 12", "zstd level 1", "zstd level 3", "zstd level 19"};
	int bound = LZ4_compressBound(cs) > (int)ZSTD_compressBound(cs) ? LZ4_compressBound(cs) : (int)ZSTD_compressBound(cs);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	double ctime[6] = {0};
	unsigned long long stored[6] = {0};
	for (int c = 0; c < 6; c++) {
		double t0 = now();
		for (size_t i = 0; i < nch; i++) {
			unsigned char *b = malloc(bound);
			int n;
			switch (c) {
			case 0: n = LZ4_compress_default((const char *)ch[i].plain, (char *)b, ch[i].n, bound); break;
			case 1: n = LZ4_compress_HC((const char *)ch[i].plain, (char *)b, ch[i].n, bound, 9); break;
			case 2: n = LZ4_compress_HC((const char *)ch[i].plain, (char *)b, ch[i].n, bound, 12); break;
			default: {
				size_t z = ZSTD_compressCCtx(cc, b, bound, ch[i].plain, ch[i].n, c == 3 ? 1 : c == 4 ? 3 : 19);
				n = ZSTD_isError(z) ? 0 : (int)z;
			}
			}
			ch[i].raw[c] = !(n > 0 && n < ch[i].n);
			ch[i].stored[c] = b;
			ch[i].slen[c] = ch[i].raw[c] ? ch[i].n : n;
			stored[c] += ch[i].slen[c];
		}
		ctime[c] = now() - t0;
	}
	static unsigned char dctx_mem[1 << 18];
	size_t need = ZSTD_estimateDCtxSize();
	if (need > sizeof dctx_mem) {
		fprintf(stderr, "zstd DCtx needs %zu bytes\n", need);
		return 1;
	}
	ZSTD_DCtx *dc = ZSTD_initStaticDCtx(dctx_mem, sizeof dctx_mem);
	unsigned char *out = malloc(cs);
	printf("%zu chunks of %d bytes, %.1f MB of file content; zstd static DCtx %zu bytes\n", nch, cs, total / 1e6, need);
	printf("%-28s %8s %10s %12s %12s\n", "codec", "stored", "raw chunks", "decode MB/s", "encode MB/s");
	for (int c = 0; c < 6; c++) {
		double best = 1e9;
		for (int pass = 0; pass < 3; pass++) {
			double t0 = now();
			for (size_t i = 0; i < nch; i++) {
				if (ch[i].raw[c])
					continue;
				if (c < 3) {
					int n = LZ4_decompress_safe((const char *)ch[i].stored[c], (char *)out, ch[i].slen[c], cs);
					if (n != ch[i].n)
						return 2;
				} else {
					size_t n = ZSTD_decompressDCtx(dc, out, cs, ch[i].stored[c], ch[i].slen[c]);
					if (ZSTD_isError(n) || (int)n != ch[i].n)
						return 3;
				}
			}
			double t = now() - t0;
			if (t < best)
				best = t;
		}
		unsigned long long dec = 0;
		size_t nraw = 0;
		for (size_t i = 0; i < nch; i++) {
			if (ch[i].raw[c])
				nraw++;
			else
				dec += ch[i].n;
		}
		printf("%-28s %8.3f %9.1f%% %12.0f %12.0f\n", names[c], (double)stored[c] / total, 100.0 * nraw / nch,
		       dec / best / 1e6, total / ctime[c] / 1e6);
	}
	return 0;
}
