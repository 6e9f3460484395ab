/* FS shield core: extended attributes kept by the nodes themselves (fsv.h).
 *
 * A node's attributes start as the image's (read through the image backend
 * by the shield) or none; the first change copies the image's into the
 * node's own list (n->xattrs_own), which from then on is the whole truth,
 * in the shared arena like the rest of the node. */
#include <string.h>
#include <linux/errno.h>

#include "fsv.h"
#include "fsv_arena.h"

struct fsv_xattr {
	struct fsv_xattr *next;
	uint32_t nlen, vlen;
	char data[]; /* name, NUL, value */
};

static struct fsv_xattr *find(const struct fsv_node *n, const char *name, struct fsv_xattr ***link)
{
	size_t nl = strlen(name);
	struct fsv_xattr **p = (struct fsv_xattr **)&n->xattrs;
	for (; *p; p = &(*p)->next) {
		if ((*p)->nlen == nl && !memcmp((*p)->data, name, nl)) {
			if (link)
				*link = p;
			return *p;
		}
	}
	if (link)
		*link = p;
	return NULL;
}

int fsv_xattr_set(struct fsv_node *n, const char *name, const void *val, size_t len, int flags)
{
	size_t nl = strlen(name);
	if (!nl || nl > FSV_XATTR_NAME_MAX)
		return -ERANGE;
	if (len > FSV_XATTR_SIZE_MAX)
		return -E2BIG;
	struct fsv_xattr **link;
	struct fsv_xattr *old = find(n, name, &link);
	if (old && (flags & FSV_XATTR_CREATE))
		return -EEXIST;
	if (!old && (flags & FSV_XATTR_REPLACE))
		return -ENODATA;
	struct fsv_xattr *x = fsv_sh_malloc(sizeof *x + nl + 1 + len);
	if (!x)
		return -ENOSPC;
	x->nlen = (uint32_t)nl;
	x->vlen = (uint32_t)len;
	memcpy(x->data, name, nl + 1);
	if (len)
		memcpy(x->data + nl + 1, val, len);
	if (old) { /* in its place: listings keep their order */
		x->next = old->next;
		*link = x;
		fsv_sh_free(old);
	} else {
		x->next = NULL;
		*link = x;
	}
	n->xattrs_own = 1;
	return 0;
}

long fsv_xattr_get(const struct fsv_node *n, const char *name, void *buf, size_t cap)
{
	const struct fsv_xattr *x = find(n, name, NULL);
	if (!x)
		return -ENODATA;
	if (!cap)
		return x->vlen;
	if (cap < x->vlen)
		return -ERANGE;
	memcpy(buf, x->data + x->nlen + 1, x->vlen);
	return x->vlen;
}

long fsv_xattr_list(const struct fsv_node *n, char *buf, size_t cap)
{
	size_t total = 0;
	for (const struct fsv_xattr *x = n->xattrs; x; x = x->next)
		total += x->nlen + 1;
	if (!cap)
		return (long)total;
	if (cap < total)
		return -ERANGE;
	size_t o = 0;
	for (const struct fsv_xattr *x = n->xattrs; x; x = x->next) {
		memcpy(buf + o, x->data, x->nlen + 1);
		o += x->nlen + 1;
	}
	return (long)total;
}

int fsv_xattr_remove(struct fsv_node *n, const char *name)
{
	struct fsv_xattr **link;
	struct fsv_xattr *x = find(n, name, &link);
	if (!x)
		return -ENODATA;
	*link = x->next;
	fsv_sh_free(x);
	n->xattrs_own = 1;
	return 0;
}

void fsv_xattr_free(struct fsv_node *n)
{
	while (n->xattrs) {
		struct fsv_xattr *x = n->xattrs;
		n->xattrs = x->next;
		fsv_sh_free(x);
	}
}
