/* FS shield core: lexical path helpers shared by the resolver
 * (fsv_path.c) and the mount-point answers (fsv_magic.c). */
#include <string.h>
#include <linux/errno.h>

#include "fsv.h"

long fsv_normalize(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0, i = 0;
	while (i < len) {
		while (i < len && in[i] == '/')
			i++;
		size_t s = i;
		while (i < len && in[i] != '/')
			i++;
		size_t cl = i - s;
		if (cl == 0 || (cl == 1 && in[s] == '.'))
			continue;
		if (cl == 2 && in[s] == '.' && in[s + 1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		if (o + 1 + cl + 1 > cap)
			return -ENAMETOOLONG;
		out[o++] = '/';
		memcpy(out + o, in + s, cl);
		o += cl;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
	return (long)o;
}
