/* Where trapped system calls come from (sites.h): three range sets under
 * one lock (locks.h rt_sites_lock). */
#include "sites.h"
#include "ivset.h"
#include "locks.h"

int rt_sites_on;

/* Indexed by kind: STUB, LEFT and PLAIN (OTHER is what none holds). */
static struct rt_ivset sets[RT_SITE_OTHER];

const char *const rt_site_kind_names[RT_SITE_KINDS] = {
	[RT_SITE_STUB] = "in stubs",
	[RT_SITE_LEFT] = "at sites left in rewritten files",
	[RT_SITE_PLAIN] = "in files not rewritten",
	[RT_SITE_OTHER] = "in code no file holds (generated)",
};

static void forget_locked(uint64_t lo, uint64_t hi)
{
	for (int k = 0; k < RT_SITE_OTHER; k++)
		if (rt_ivset_overlaps(&sets[k], lo, hi))
			(void)rt_ivset_remove(&sets[k], lo, hi); /* -ENOMEM: the range stays, a count goes astray */
}

void rt_sites_code(uint64_t lo, uint64_t hi, enum rt_site_kind kind)
{
	if (!rt_sites_on || kind >= RT_SITE_OTHER || lo >= hi)
		return;
	rt_lock(&rt_sites_lock);
	forget_locked(lo, hi);
	(void)rt_ivset_add(&sets[kind], lo, hi); /* -ENOMEM: counted as generated code */
	rt_unlock(&rt_sites_lock);
}

void rt_sites_forget(uint64_t lo, uint64_t hi)
{
	if (!rt_sites_on || lo >= hi)
		return;
	rt_lock(&rt_sites_lock);
	forget_locked(lo, hi);
	rt_unlock(&rt_sites_lock);
}

enum rt_site_kind rt_sites_kind(uint64_t pc)
{
	enum rt_site_kind kind = RT_SITE_OTHER;
	rt_lock(&rt_sites_lock);
	for (int k = 0; k < RT_SITE_OTHER; k++)
		if (rt_ivset_overlaps(&sets[k], pc, pc + 1)) {
			kind = (enum rt_site_kind)k;
			break;
		}
	rt_unlock(&rt_sites_lock);
	return kind;
}

void rt_sites_reset(void)
{
	rt_lock(&rt_sites_lock);
	for (int k = 0; k < RT_SITE_OTHER; k++)
		rt_ivset_free(&sets[k]);
	rt_unlock(&rt_sites_lock);
}
