/* sim mode start-up, the CAS part (einit_cas.c): an image whose measured
 * config names a CAS gets its FS key and secrets from it (docs/cas.md, "The
 * runtime side"); no key comes from the host. */
#ifndef SCONE_EINIT_CAS_H
#define SCONE_EINIT_CAS_H

#include <stddef.h>
#include <stdint.h>

struct econfig;
struct sigstruct_info;
struct casmsg_secrets;
struct vol_freshness;

/* Refuses a host FS key (SCONE_FS_KEY_FILE, SCONE_FS_KEY: exit 64), asks
 * the CAS (attest.h, exits on failure) and checks that what it released has
 * an FS key (exit 77 without one). *fresh: the volume state client when the
 * policy tracks volumes (volstate.h), else NULL. */
void einit_cas(const struct econfig *cfg, const uint8_t mrenclave[32], const struct sigstruct_info *si,
	       struct casmsg_secrets *out, const struct vol_freshness **fresh);

/* env (NULL-terminated, rt_calloc'd with room for nadd more entries) with
 * the CAS's variables added, replacing those of the same name. */
void einit_cas_env(char **env, size_t n, char *const *add, size_t nadd);

#endif
