/* getdents64 records, bounds-checked (getdents.h). */
#include <string.h>

#include "getdents.h"

int rt_dirent_next(const void *buf, size_t len, size_t *pos, struct rt_dirent *d)
{
	const unsigned char *b = buf;
	size_t p = *pos;
	if (p == len)
		return 0;
	if (p > len || len - p < RT_DIRENT_HDR + 1)
		return -1;
	uint16_t reclen;
	memcpy(&reclen, b + p + 16, 2);
	if (reclen < RT_DIRENT_HDR + 1 || reclen > len - p || (reclen & 7))
		return -1;
	const unsigned char *name = b + p + RT_DIRENT_HDR;
	size_t max = reclen - RT_DIRENT_HDR, n = 0;
	while (n < max && name[n])
		n++;
	if (n == max || n == 0)
		return -1; /* no NUL inside the record, or an empty name */
	memcpy(&d->ino, b + p, 8);
	memcpy(&d->off, b + p + 8, 8);
	d->type = b[p + 18];
	d->name = (const char *)name;
	d->namelen = n;
	*pos = p + reclen;
	return 1;
}

int rt_dirent_check(const void *buf, size_t len)
{
	size_t pos = 0;
	struct rt_dirent d;
	int r;
	while ((r = rt_dirent_next(buf, len, &pos, &d)) > 0)
		;
	return r;
}
