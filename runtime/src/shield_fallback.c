/* NO-SHIELD FALLBACK for the developer mode (and for building the runtime
 * before the real shields exist). These weak definitions pass every call to
 * the host unchanged: files come from the host file system and console
 * output is plain. The real fs_*.c / console_shield.c override them at link
 * time. In sim mode the runtime warns loudly when it runs on these. */
#include "shield.h"
#include "rtutil.h"

int rt_shields_are_fallback;

__attribute__((weak)) int fs_shield(const struct sys_call *c, long *ret)
{
	(void)c;
	(void)ret;
	return SHIELD_PASS;
}

__attribute__((weak)) int fs_shield_init(const struct fsp *img, const struct econfig *cfg)
{
	(void)img;
	(void)cfg;
	rt_shields_are_fallback = 1;
	return 0;
}

__attribute__((weak)) int fs_is_virtual_fd(int fd)
{
	(void)fd;
	return 0;
}

__attribute__((weak)) int fs_shield_active(void) { return 0; }

__attribute__((weak)) void fs_program_started(const struct rt_program *p) { (void)p; }

__attribute__((weak)) int console_fd_is_console(int fd)
{
	(void)fd;
	return 0;
}

__attribute__((weak)) int console_shield(const struct sys_call *c, long *ret)
{
	(void)c;
	(void)ret;
	return SHIELD_PASS;
}

__attribute__((weak)) int console_shield_init(const uint8_t fs_key[32], const struct econfig *cfg)
{
	(void)fs_key;
	(void)cfg;
	rt_shields_are_fallback = 1;
	return 0;
}
