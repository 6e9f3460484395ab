/* Randomness from inside the enclave (random.h).
 *
 * Seed: 48 bytes from RDSEED when the CPU has it, else RDRAND (Intel's DRNG
 * is itself a DRBG reseeded from its entropy source), each instruction
 * retried as Intel's guidance says (RDRAND 10 times, RDSEED more, with a
 * pause) before the runtime gives up. Generator: AESCTR_DRBG, which rekeys
 * after every request (forward secrecy) and mixes 32 fresh bytes from the
 * CPU every RESEED_BYTES of output and in every forked child. One global
 * generator behind a spinlock; requests are split so that the lock is never
 * held for long. */
#include <bearssl.h>
#include "random.h"
#include "locks.h"
#include "rtstring.h"
#include "rtutil.h"
#include "sys.h"

#define RESEED_BYTES (1u << 20)
#define CHUNK 4096u

static br_aesctr_drbg_context drbg;
static size_t since_reseed;
static int have_rdseed;

static int cpu_rdseed(unsigned long long *v)
{
	unsigned char ok;
	__asm__ volatile("rdseed %0; setc %1" : "=r"(*v), "=qm"(ok) : : "cc");
	return ok;
}

static int cpu_rdrand(unsigned long long *v)
{
	unsigned char ok;
	__asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok) : : "cc");
	return ok;
}

static void cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* One 64-bit word from the CPU's random number generator. */
static unsigned long long cpu_word(void)
{
	unsigned long long v;
	if (have_rdseed)
		for (int i = 0; i < 100; i++) {
			if (cpu_rdseed(&v))
				return v;
			__builtin_ia32_pause();
		}
	for (int i = 0; i < 10; i++)
		if (cpu_rdrand(&v))
			return v;
	rt_fatal(RT_EX_OSERR, "the CPU's random number generator (RDRAND) failed 10 times in a row: "
			      "refusing to take randomness from the host");
}

static void cpu_bytes(unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		unsigned long long v = cpu_word();
		for (size_t j = 0; j < 8 && i + j < n; j++)
			out[i + j] = (unsigned char)(v >> (8 * j));
	}
}

static void take(void) { rt_lock(&rt_random_lock); }
static void give(void) { rt_unlock(&rt_random_lock); }

static void seed_new(void);

void rt_random_init(void)
{
	unsigned r[4];
	cpuid(0, 0, r);
	unsigned max = r[0];
	cpuid(1, 0, r);
	if (!(r[2] & (1u << 30)))
		rt_fatal(RT_EX_OSERR, "the CPU has no RDRAND instruction: the runtime takes its randomness only from "
				      "the CPU, never from the host (every SGX-capable CPU has RDRAND)");
	if (max >= 7) {
		cpuid(7, 0, r);
		have_rdseed = (r[1] >> 18) & 1;
	}
	seed_new();
}

static void reseed_locked(void)
{
	unsigned char s[32];
	cpu_bytes(s, sizeof s);
	br_aesctr_drbg_update(&drbg, s, sizeof s);
	rt_memzero(s, sizeof s);
	since_reseed = 0;
}

void rt_random(void *buf, size_t len)
{
	unsigned char *p = buf;
	while (len) {
		size_t n = len < CHUNK ? len : CHUNK;
		take();
		if (since_reseed >= RESEED_BYTES)
			reseed_locked();
		br_aesctr_drbg_generate(&drbg, p, n);
		since_reseed += n;
		give();
		p += n;
		len -= n;
	}
}

static void seed_new(void)
{
	unsigned char seed[48];
	cpu_bytes(seed, sizeof seed);
	const br_block_ctr_class *aes = br_aes_x86ni_ctr_get_vtable();
	if (!aes)
		aes = &br_aes_ct64_ctr_vtable;
	br_aesctr_drbg_init(&drbg, aes, seed, sizeof seed);
	rt_memzero(seed, sizeof seed);
	since_reseed = 0;
}

void rt_random_fork_child(void)
{
	/* The child starts a generator of its own from fresh CPU randomness,
	 * so that parent and child never share a stream (fork took and
	 * released the lock: no other thread was inside rt_random). */
	seed_new();
}

/* BearSSL's "system" seeder, which its SSL engine asks for at every reset:
 * the CPU's generator, never the host. Defined here, so the archive's own
 * (sysrng.o: /dev/urandom) is never linked into the runtime. */
static int seed_engine(const br_prng_class **ctx)
{
	unsigned char b[32];
	rt_random(b, sizeof b);
	(*ctx)->update(ctx, b, sizeof b);
	rt_memzero(b, sizeof b);
	return 1;
}

br_prng_seeder br_prng_seeder_system(const char **name)
{
	if (name)
		*name = "cpu";
	return seed_engine;
}
