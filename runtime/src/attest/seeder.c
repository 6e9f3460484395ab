/* BearSSL's system seeder, replaced: the runtime has none. BearSSL's
 * br_prng_seeder_system (sysrng.o) would read /dev/urandom through libc,
 * i.e. take randomness from the host, which the runtime never does
 * (random.h). Defining it here keeps sysrng.o out of the link; the TLS
 * engine is seeded from rt_random instead (tls.c), and this is only
 * reached if that was forgotten, which then fails the handshake
 * (BR_ERR_NO_RANDOM) rather than use host randomness. */
#include <bearssl.h>

br_prng_seeder br_prng_seeder_system(const char **name)
{
	if (name)
		*name = "none";
	return 0;
}
