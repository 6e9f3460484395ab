/* Table-driven test of the Iago checks (runtime/src/core/iago.c, fdtab.c,
 * vma.c): for each call, a host that lies (a length past the buffer, a
 * descriptor already in use, a mapping over live memory, malformed records
 * or control messages) stops the runtime (rt_fatal, caught here with
 * longjmp); the honest answer passes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "fdtab.h"
#include "iago.h"
#include "sys.h"
#include "vma.h"
#include "testutil.h"

static jmp_buf jb;
static char last[256];
void rt_fatal(int code, const char *fmt, ...)
{
	(void)code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last, sizeof last, fmt, ap);
	va_end(ap);
	longjmp(jb, 1);
}

int rt_strncmp(const char *a, const char *b, size_t n) { return strncmp(a, b, n); }

/* Runs the pre/post checks of an application call and the host-result
 * accounting as host_syscall does; 1 when the runtime stopped. */
static int stops(long nr, long a0, long a1, long a2, long a3, long a4, long a5, long ret)
{
	long a[6] = {a0, a1, a2, a3, a4, a5};
	struct rt_iago_snap s;
	last[0] = 0;
	if (setjmp(jb))
		return 1;
	rt_iago_pre(nr, a, &s);
	rt_host_before(nr, a);
	rt_host_result(nr, a, ret);
	rt_iago_check(nr, a, ret, &s);
	return 0;
}

#define LIE(name, call, want)       \
	{                           \
		name, call, 1, want \
	}
#define TRUTH(name, call)           \
	{                           \
		name, call, 0, NULL \
	}

struct iov {
	void *base;
	unsigned long len;
};

static char buf[4096];
static struct iov iov2[2] = {{buf, 100}, {buf + 100, 50}};
static unsigned char dents[64];
static uint32_t optlen, addrlen;
static struct sockaddr_storage ss;
static struct msghdr msg;
static unsigned char ctl[64];
static int pipefds[2];

static void setup_dents(int bad)
{
	memset(dents, 0, sizeof dents);
	uint16_t reclen = bad ? 0 : 24;
	memcpy(dents + 16, &reclen, 2);
	dents[19] = 'a';
}

/* One SCM_RIGHTS message carrying fd into ctl; returns its length. */
static unsigned long scm_rights(int fd, unsigned long clen)
{
	memset(ctl, 0, sizeof ctl);
	int level = SOL_SOCKET, type = SCM_RIGHTS;
	memcpy(ctl, &clen, 8);
	memcpy(ctl + 8, &level, 4);
	memcpy(ctl + 12, &type, 4);
	memcpy(ctl + 16, &fd, 4);
	return 24;
}

/* The pristine copies of vma.c: which host calls end a range's pristine
 * state, and what is left of it. Each case records one copy of key 7 at
 * [0x10000, 0x20000) from file offset 0x3000, makes one call, then asks
 * about a range. */
static void test_pristine(void)
{
	const unsigned long lo = 0x10000, hi = 0x20000;
	static const struct {
		const char *name;
		long nr, a[6];
		unsigned long qlo, qhi;
		uint64_t qoff;
		int want;
	} cases[] = {
		{"no call: the whole copy", -1, {0}, lo, hi, 0x3000, 1},
		{"no call: a segment at its offset", -1, {0}, 0x12000, 0x15000, 0x5000, 1},
		{"no call: another offset", -1, {0}, 0x12000, 0x15000, 0x6000, 0},
		{"no call: past the end", -1, {0}, 0x1f000, 0x21000, 0x12000, 0},
		{"mprotect read-exec keeps it", __NR_mprotect, {0x12000, 0x3000, 5}, 0x12000, 0x15000, 0x5000, 1},
		{"mprotect writable ends it", __NR_mprotect, {0x12000, 0x1000, 3}, 0x12000, 0x15000, 0x5000, 0},
		{"mprotect writable: the head stays", __NR_mprotect, {0x12000, 0x1000, 3}, lo, 0x12000, 0x3000, 1},
		{"mprotect writable: the tail stays", __NR_mprotect, {0x12000, 0x1000, 3}, 0x13000, hi, 0x6000, 1},
		{"pkey_mprotect writable ends it", __NR_pkey_mprotect, {lo, 0x10000, 7, 0}, lo, 0x11000, 0x3000, 0},
		{"munmap of the head", __NR_munmap, {lo, 0x4000}, lo, 0x15000, 0x3000, 0},
		{"munmap of the head: the rest stays", __NR_munmap, {lo, 0x4000}, 0x14000, hi, 0x7000, 1},
		{"madvise ends it", __NR_madvise, {0x1f000, 0x1000, 4}, 0x1e000, hi, 0x11000, 0},
		{"mmap MAP_FIXED over it", __NR_mmap, {0x18000, 0x100, 1, 0x12, -1, 0}, 0x18000, 0x19000, 0xb000, 0},
		{"mmap without MAP_FIXED", __NR_mmap, {0x18000, 0x1000, 1, 0x02, -1, 0}, 0x18000, 0x19000, 0xb000, 1},
		{"mremap of the range", __NR_mremap, {0x11000, 0x1000, 0x2000, 1, 0}, 0x11000, 0x12000, 0x4000, 0},
		{"mremap onto it (MREMAP_FIXED)",
		 __NR_mremap,
		 {0x90000, 0x1000, 0x2000, 3, 0x1c000},
		 0x1c000,
		 0x1e000,
		 0xf000,
		 0},
		{"mremap onto it: before the target stays",
		 __NR_mremap,
		 {0x90000, 0x1000, 0x2000, 3, 0x1c000},
		 lo,
		 0x1c000,
		 0x3000,
		 1},
		{"shmat SHM_REMAP ends every copy", __NR_shmat, {1, 0x50000, 040000}, lo, 0x11000, 0x3000, 0},
		{"shmat without SHM_REMAP", __NR_shmat, {1, 0x50000, 0}, lo, 0x11000, 0x3000, 1},
		{"read does nothing to it", __NR_read, {0, lo, 0x1000}, lo, hi, 0x3000, 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		rt_vma_before(__NR_munmap, (const long[]){0, 0x7fff0000, 0, 0, 0, 0}); /* nothing pristine */
		CHECK_MSG(!rt_vma_pristine(lo, hi, 7, 0x3000), "%s: left from before", cases[i].name);
		rt_vma_pristine_add(lo, hi, 7, 0x3000);
		if (cases[i].nr >= 0)
			rt_vma_before(cases[i].nr, cases[i].a);
		int got = rt_vma_pristine(cases[i].qlo, cases[i].qhi, 7, cases[i].qoff);
		CHECK_MSG(got == cases[i].want, "%s: pristine %d, want %d", cases[i].name, got, cases[i].want);
		CHECK_MSG(!rt_vma_pristine(cases[i].qlo, cases[i].qhi, 8, cases[i].qoff), "%s: another key",
			  cases[i].name);
	}
	/* the middle of a copy goes: both ends stay, each at its offset */
	rt_vma_pristine_add(lo, hi, 7, 0x3000);
	rt_vma_before(__NR_munmap, (const long[]){0x14000, 0x2000, 0, 0, 0, 0});
	CHECK(rt_vma_pristine(lo, 0x14000, 7, 0x3000));
	CHECK(rt_vma_pristine(0x16000, hi, 7, 0x9000));
	CHECK(!rt_vma_pristine(0x13000, 0x17000, 7, 0x6000));
}

/* A host call as transport.c makes it: rt_vma_before, then rt_vma_after
 * with the result r, both with the same arguments. */
static void host_call(long nr, const long *a, long r)
{
	rt_vma_before(nr, a);
	rt_vma_after(nr, a, r);
}

/* Ends every record (a munmap of everything) and forgets what was lost. */
static void alias_reset(void)
{
	uint64_t keys[8];
	int all;
	host_call(__NR_munmap, (const long[]){0, 0x7fff0000, 0, 0, 0, 0}, 0);
	rt_vma_alias_lost(keys, 8, &all);
}

/* The alias records of vma.c (shared mappings of a file's own memory):
 * which host calls end or change them, and what rt_vma_alias answers. Each
 * case records key 7 at [0x10000, 0x20000) from offset 0x3000, read-only,
 * makes one call that succeeds, then asks about a range. */
static void test_alias(void)
{
	const unsigned long lo = 0x10000, hi = 0x20000;
	static const struct {
		const char *name;
		long nr, a[6];
		unsigned long qlo, qhi;
		int want, prot;
		uint64_t off;
	} cases[] = {
		{"no call: the whole mapping", -1, {0}, lo, hi, 1, 1, 0x3000},
		{"no call: a part, at its offset", -1, {0}, 0x12000, 0x15000, 1, 1, 0x5000},
		{"no call: past the end", -1, {0}, 0x1f000, 0x21000, -1, 0, 0},
		{"no call: before it", -1, {0}, 0xf000, 0x11000, -1, 0, 0},
		{"no call: elsewhere", -1, {0}, 0x30000, 0x31000, 0, 0, 0},
		{"munmap of the tail", __NR_munmap, {0x18000, 0x8000}, lo, hi, -1, 0, 0},
		{"munmap of the tail: the head stays", __NR_munmap, {0x18000, 0x8000}, lo, 0x18000, 1, 1, 0x3000},
		{"munmap of the middle: the tail stays", __NR_munmap, {0x14000, 0x1000}, 0x15000, hi, 1, 1, 0x8000},
		{"munmap of the middle: across it", __NR_munmap, {0x14000, 0x1000}, 0x13000, 0x16000, -1, 0, 0},
		{"mmap MAP_FIXED over it", __NR_mmap, {0x18000, 0x100, 1, 0x12, -1, 0}, 0x18000, 0x19000, 0, 0, 0},
		{"mmap without MAP_FIXED",
		 __NR_mmap,
		 {0x18000, 0x1000, 1, 0x02, -1, 0},
		 0x18000,
		 0x19000,
		 1,
		 1,
		 0xb000},
		{"mremap of the range", __NR_mremap, {0x11000, 0x1000, 0x2000, 1, 0}, 0x11000, 0x12000, 0, 0, 0},
		{"mremap DONTUNMAP keeps it",
		 __NR_mremap,
		 {0x11000, 0x1000, 0x1000, 5, 0},
		 0x11000,
		 0x12000,
		 1,
		 1,
		 0x4000},
		{"mremap onto it (MREMAP_FIXED)",
		 __NR_mremap,
		 {0x90000, 0x1000, 0x2000, 3, 0x1c000},
		 0x1c000,
		 0x1e000,
		 0,
		 0,
		 0},
		{"mprotect: the part gets it", __NR_mprotect, {0x12000, 0x2000, 3}, 0x12000, 0x14000, 1, 3, 0x5000},
		{"mprotect: the head keeps its own", __NR_mprotect, {0x12000, 0x2000, 3}, lo, 0x12000, 1, 1, 0x3000},
		{"mprotect: the tail keeps its own", __NR_mprotect, {0x12000, 0x2000, 3}, 0x14000, hi, 1, 1, 0x7000},
		{"mprotect: across two protections", __NR_mprotect, {0x12000, 0x2000, 3}, 0x11000, 0x13000, -1, 0, 0},
		{"madvise does nothing to it", __NR_madvise, {lo, 0x1000, 4}, lo, hi, 1, 1, 0x3000},
		{"shmat SHM_REMAP (shmid 5) ends it", __NR_shmat, {5, 0x30000, 040000}, lo, hi, 0, 0, 0},
		{"shmat without SHM_REMAP keeps it", __NR_shmat, {5, 0x30000, 0}, lo, hi, 1, 1, 0x3000},
		{"munmap of an unaligned address (EINVAL) keeps it",
		 __NR_munmap,
		 {0x12c00, 0x9c00},
		 lo,
		 hi,
		 1,
		 1,
		 0x3000},
		{"mremap to an unaligned target (EINVAL) keeps it",
		 __NR_mremap,
		 {lo, 0x1000, 0x2000, 3, 0x1c800},
		 lo,
		 hi,
		 1,
		 1,
		 0x3000},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		alias_reset(); /* nothing recorded */
		uint64_t key = 0, off = 0;
		int prot = 0;
		CHECK_MSG(!rt_vma_alias(lo, hi, &key, &off, &prot), "%s: left from before", cases[i].name);
		CHECK(rt_vma_alias_add(lo, hi, 7, 0x3000, 1) == 0);
		if (cases[i].nr >= 0)
			host_call(cases[i].nr, cases[i].a, 0);
		int got = rt_vma_alias(cases[i].qlo, cases[i].qhi, &key, &off, &prot);
		CHECK_MSG(got == cases[i].want, "%s: %d, want %d", cases[i].name, got, cases[i].want);
		if (got == 1)
			CHECK_MSG(key == 7 && off == cases[i].off && prot == cases[i].prot,
				  "%s: key %llu off %#llx prot %d", cases[i].name, (unsigned long long)key,
				  (unsigned long long)off, prot);
	}
	/* grown in place: a second record that continues the first is one
	 * mapping; one that does not (another offset) is not */
	alias_reset();
	uint64_t key, off;
	int prot;
	CHECK(rt_vma_alias_add(lo, hi, 7, 0x3000, 1) == 0 && rt_vma_alias_add(hi, 0x28000, 7, 0x13000, 1) == 0);
	CHECK(rt_vma_alias(0x11000, 0x27000, &key, &off, &prot) == 1 && off == 0x4000);
	CHECK(rt_vma_alias_add(0x28000, 0x29000, 7, 0x90000, 1) == 0);
	CHECK(rt_vma_alias(lo, 0x29000, &key, &off, &prot) == -1);
	/* a full table refuses */
	alias_reset();
	int added = 0;
	while (added < 1000 && rt_vma_alias_add(0x100000 + (unsigned long)added * 0x2000,
						0x101000 + (unsigned long)added * 0x2000, 1, 0, 1) == 0)
		added++;
	CHECK_MSG(added > 0 && added < 1000, "%d records taken", added);
	alias_reset();
}

/* What the FS shield asks before it lets a file go: whether the process
 * may still map it (rt_vma_alias_held), and which files lost a record
 * (rt_vma_alias_lost). A record ends only when the call that unmaps its
 * range succeeds. */
static void test_alias_held(void)
{
	const unsigned long lo = 0x10000, hi = 0x20000;
	uint64_t keys[8], key, off;
	int all, prot;
	alias_reset(); /* test_alias pinned its key 7 (shmat SHM_REMAP) */
	CHECK(!rt_vma_alias_lost_any() && !rt_vma_alias_held(27));
	CHECK(rt_vma_alias_add(lo, hi, 27, 0, 3) == 0 && rt_vma_alias_add(0x40000, 0x41000, 29, 0, 3) == 0);
	CHECK(rt_vma_alias_held(27) && rt_vma_alias_held(29) && !rt_vma_alias_held(28));

	/* in flight: the range is being unmapped (no longer an alias to
	 * mremap), but the file is held until the result */
	const long part[6] = {0x14000, 0x4000};
	rt_vma_before(__NR_munmap, part);
	CHECK(rt_vma_alias(0x14000, 0x15000, &key, &off, &prot) == 0);
	CHECK(rt_vma_alias(lo, 0x14000, &key, &off, &prot) == 1);
	CHECK(rt_vma_alias_held(27));
	/* failed: the range is an alias again, one mapping with the rest */
	rt_vma_after(__NR_munmap, part, -ENOMEM);
	CHECK(rt_vma_alias(lo, hi, &key, &off, &prot) == 1 && key == 27 && off == 0);
	CHECK(!rt_vma_alias_lost_any());

	/* succeeded in part: the file stays held by the rest, and is named
	 * as having lost a record */
	host_call(__NR_munmap, part, 0);
	CHECK(rt_vma_alias_lost_any() && rt_vma_alias_held(27));
	CHECK(rt_vma_alias_lost(keys, 8, &all) == 1 && keys[0] == 27 && !all);
	CHECK(!rt_vma_alias_lost_any());
	/* the last of it goes: no longer held; file 29 is untouched */
	host_call(__NR_mmap, (const long[]){lo, 0x4000, 3, 0x32 /* PRIVATE|FIXED|ANON */, -1, 0}, (long)lo);
	host_call(__NR_munmap, (const long[]){0x18000, 0x8000}, 0);
	CHECK(!rt_vma_alias_held(27) && rt_vma_alias_held(29));
	CHECK(rt_vma_alias_lost(keys, 8, &all) == 1 && keys[0] == 27);

	/* two calls in flight at once: each result settles its own range */
	CHECK(rt_vma_alias_add(lo, hi, 27, 0, 3) == 0);
	const long a1[6] = {lo, 0x1000}, a2[6] = {0x1f000, 0x1000};
	rt_vma_before(__NR_munmap, a1);
	rt_vma_before(__NR_munmap, a2);
	rt_vma_after(__NR_munmap, a2, 0);
	rt_vma_after(__NR_munmap, a1, -EINVAL);
	CHECK(rt_vma_alias(lo, 0x1f000, &key, &off, &prot) == 1 && off == 0);
	CHECK(rt_vma_alias(0x1f000, hi, &key, &off, &prot) == 0);

	/* a mapping that loses its record without an unmap pins its file */
	host_call(__NR_shmat, (const long[]){5, 0x30000, 040000}, 0x30000);
	CHECK(rt_vma_alias(lo, 0x1f000, &key, &off, &prot) == 0);
	CHECK(rt_vma_alias_held(27) && rt_vma_alias_held(29));
	CHECK(rt_vma_alias_lost(keys, 8, &all) == 2 && !all);

	/* more files lost than the list holds: any may have */
	for (unsigned i = 0; i < 70; i++)
		CHECK(rt_vma_alias_add(0x100000 + i * 0x2000UL, 0x101000 + i * 0x2000UL, 100 + i, 0, 3) == 0);
	host_call(__NR_munmap, (const long[]){0x100000, 70 * 0x2000}, 0);
	CHECK(rt_vma_alias_lost(keys, 8, &all) == 8 && all);
	CHECK(!rt_vma_alias_held(100) && !rt_vma_alias_held(169));
}

int main(void)
{
	rt_fdtab_init(); /* this process's descriptors: 0, 1, 2 at least */
	rt_vma_init("00400000-00401000 r-xp 0 0 0 /app\n7ffd00000000-7ffd00021000 rw-p 0 0 0 [stack]\n");
	long ubuf = (long)buf;

	/* lengths */
	CHECK(!stops(__NR_read, 3, ubuf, 100, 0, 0, 0, 100));
	CHECK(stops(__NR_read, 3, ubuf, 100, 0, 0, 0, 101) && strstr(last, "more bytes than requested"));
	CHECK(!stops(__NR_read, 3, ubuf, 100, 0, 0, 0, -4));
	CHECK(stops(__NR_pread64, 3, ubuf, 10, 0, 0, 0, 4096));
	CHECK(stops(__NR_write, 1, ubuf, 10, 0, 0, 0, 11));
	CHECK(!stops(__NR_readv, 3, (long)iov2, 2, 0, 0, 0, 150));
	CHECK(stops(__NR_readv, 3, (long)iov2, 2, 0, 0, 0, 151) && strstr(last, "buffers hold"));
	CHECK(stops(__NR_preadv, 3, (long)iov2, 1, 0, 0, 0, 101));
	CHECK(stops(__NR_writev, 1, (long)iov2, 2, 0, 0, 0, 4096));
	CHECK(stops(__NR_readlinkat, -100, ubuf, ubuf, 8, 0, 0, 9));
	CHECK(!stops(__NR_readlinkat, -100, ubuf, ubuf, 8, 0, 0, 8));
	CHECK(stops(__NR_getcwd, ubuf, 10, 0, 0, 0, 0, 11));
	CHECK(stops(__NR_epoll_wait, 3, ubuf, 4, -1, 0, 0, 5));
	CHECK(stops(__NR_poll, ubuf, 2, -1, 0, 0, 0, 3));
	CHECK(stops(__NR_select, 2, 0, 0, 0, 0, 0, 7));
	/* getdents64: records inside the buffer */
	setup_dents(0);
	CHECK(!stops(__NR_getdents64, 3, (long)dents, sizeof dents, 0, 0, 0, 24));
	CHECK(stops(__NR_getdents64, 3, (long)dents, 16, 0, 0, 0, 24) && strstr(last, "more bytes"));
	setup_dents(1);
	CHECK(stops(__NR_getdents64, 3, (long)dents, sizeof dents, 0, 0, 0, 24) && strstr(last, "malformed directory"));
	/* socket address and option lengths */
	addrlen = 16;
	CHECK(!stops(__NR_accept4, 3, (long)&ss, (long)&addrlen, 0, 0, 0, 609));
	addrlen = 1000;
	CHECK(stops(__NR_accept4, 3, (long)&ss, (long)&addrlen, 0, 0, 0, 610) && strstr(last, "address longer"));
	CHECK(stops(__NR_getsockname, 3, (long)&ss, (long)&addrlen, 0, 0, 0, 0));
	CHECK(stops(__NR_recvfrom, 3, ubuf, 10, 0, (long)&ss, (long)&addrlen, 5));
	addrlen = 1000;
	CHECK(!stops(__NR_recvfrom, 3, ubuf, 10, 0, 0, 0, 5)); /* no address asked for */
	optlen = 4;
	{
		/* the host rewrites optlen during the call: the check compares
		 * with the size before the call */
		long a[6] = {3, 1, 2, ubuf, (long)&optlen, 0};
		struct rt_iago_snap s;
		int stopped = 0;
		if (setjmp(jb))
			stopped = 1;
		else {
			rt_iago_pre(__NR_getsockopt, a, &s);
			optlen = 64;
			rt_iago_check(__NR_getsockopt, a, 0, &s);
		}
		CHECK(stopped && strstr(last, "option longer"));
	}
	/* recvmsg: bytes, name length, control length, SCM_RIGHTS descriptors */
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = (void *)iov2;
	msg.msg_iovlen = 2;
	msg.msg_name = &ss;
	msg.msg_namelen = 16;
	msg.msg_control = ctl;
	msg.msg_controllen = 0; /* no control data came */
	CHECK(!stops(__NR_recvmsg, 3, (long)&msg, 0, 0, 0, 0, 150));
	CHECK(stops(__NR_recvmsg, 3, (long)&msg, 0, 0, 0, 0, 151));
	msg.msg_namelen = 200;
	CHECK(stops(__NR_recvmsg, 3, (long)&msg, 0, 0, 0, 0, 10) && strstr(last, "address longer"));
	msg.msg_namelen = 16;
	msg.msg_controllen = scm_rights(640, 20);
	CHECK(!stops(__NR_recvmsg, 3, (long)&msg, 0, 0, 0, 0, 10) && rt_fdtab_is_open(640));
	msg.msg_controllen = scm_rights(640, 20);
	CHECK(stops(__NR_recvmsg, 3, (long)&msg, 0, 0, 0, 0, 10) && strstr(last, "already open"));
	msg.msg_controllen = scm_rights(1, 20);
	CHECK(stops(__NR_recvmsg, 3, (long)&msg, 0, 0, 0, 0, 10) && strstr(last, "already open"));
	msg.msg_controllen = scm_rights(641, 200);
	CHECK(stops(__NR_recvmsg, 3, (long)&msg, 0, 0, 0, 0, 10) && strstr(last, "runs past"));
	{
		long a[6] = {3, (long)&msg, 0, 0, 0, 0};
		struct rt_iago_snap s;
		int stopped = 0;
		msg.msg_controllen = 16;
		if (setjmp(jb))
			stopped = 1;
		else {
			rt_iago_pre(__NR_recvmsg, a, &s);
			msg.msg_controllen = 64; /* more control data than the buffer held */
			rt_iago_check(__NR_recvmsg, a, 1, &s);
		}
		CHECK(stopped && strstr(last, "msg_controllen"));
	}
	/* recvmmsg: more messages than asked; vlen is capped */
	{
		static struct mmsghdr mm[RT_IAGO_MMSG];
		memset(mm, 0, sizeof mm);
		mm[0].msg_hdr.msg_iov = (void *)iov2;
		mm[0].msg_hdr.msg_iovlen = 1;
		mm[0].msg_len = 100;
		mm[1] = mm[0];
		CHECK(!stops(__NR_recvmmsg, 3, (long)mm, 2, 0, 0, 0, 2));
		CHECK(stops(__NR_recvmmsg, 3, (long)mm, 2, 0, 0, 0, 3) && strstr(last, "more messages"));
		mm[1].msg_len = 101;
		CHECK(stops(__NR_recvmmsg, 3, (long)mm, 2, 0, 0, 0, 2) && strstr(last, "buffers hold"));
		long a[6] = {3, (long)mm, 100000, 0, 0, 0};
		struct rt_iago_snap s;
		rt_iago_pre(__NR_recvmmsg, a, &s);
		CHECK_EQ(a[2], RT_IAGO_MMSG);
	}

	/* descriptors: a new one must be free */
	CHECK(!stops(__NR_openat, -100, ubuf, 0, 0, 0, 0, 605) && rt_fdtab_is_open(605));
	CHECK(stops(__NR_openat, -100, ubuf, 0, 0, 0, 0, 605) && strstr(last, "already open"));
	CHECK(stops(__NR_openat, -100, ubuf, 0, 0, 0, 0, 1) && strstr(last, "already open"));
	CHECK(stops(__NR_socket, 2, 1, 0, 0, 0, 0, 2));
	CHECK(stops(__NR_openat, -100, ubuf, 0, 0, 0, 0, 1L << 40) && strstr(last, "out of range"));
	CHECK(!stops(__NR_close, 605, 0, 0, 0, 0, 0, 0) && !rt_fdtab_is_open(605));
	CHECK(!stops(__NR_openat, -100, ubuf, 0, 0, 0, 0, 605)); /* free again */
	CHECK(stops(__NR_dup, 0, 0, 0, 0, 0, 0, 2));
	CHECK(!stops(__NR_dup2, 605, 1, 0, 0, 0, 0, 1)); /* replacing is what dup2 does */
	CHECK(stops(__NR_dup2, 605, 607, 0, 0, 0, 0, 608) && strstr(last, "dup2"));
	CHECK(stops(__NR_fcntl, 605, 0 /* F_DUPFD */, 612, 0, 0, 0, 611) && strstr(last, "F_DUPFD"));
	CHECK(!stops(__NR_fcntl, 605, 0, 612, 0, 0, 0, 612));
	CHECK(stops(__NR_fcntl, 605, 1030, 0, 0, 0, 0, 612));
	pipefds[0] = 620;
	pipefds[1] = 2;
	CHECK(stops(__NR_pipe2, (long)pipefds, 0, 0, 0, 0, 0, 0) && strstr(last, "pipe"));
	pipefds[0] = 621;
	pipefds[1] = 622;
	CHECK(!stops(__NR_pipe2, (long)pipefds, 0, 0, 0, 0, 0, 0) && rt_fdtab_is_open(621) && rt_fdtab_is_open(622));
	CHECK(!stops(__NR_close_range, 620, 630, 0, 0, 0, 0, 0) && !rt_fdtab_is_open(621) && !rt_fdtab_is_open(622));
	CHECK(stops(__NR_signalfd4, 604, ubuf, 8, 0, 0, 0, 606));

	/* mappings: a fresh one never overlaps live memory */
	CHECK(stops(__NR_mmap, 0, 4096, 3, 0x22, -1, 0, 0x400000) && strstr(last, "overlaps memory"));
	CHECK(stops(__NR_mmap, 0, 8192, 3, 0x22, -1, 0, 0x7ffcfffff000L)); /* into the stack's growth area */
	CHECK(!stops(__NR_mmap, 0, 8192, 3, 0x22, -1, 0, 0x10000000));
	CHECK(stops(__NR_mmap, 0, 4096, 3, 0x22, -1, 0, 0x10001000));		   /* inside the one just made */
	CHECK(!stops(__NR_mmap, 0x10001000, 4096, 3, 0x32, -1, 0, 0x10001000));	   /* MAP_FIXED replaces */
	CHECK(stops(__NR_mmap, 0x10001000, 4096, 3, 0x100022, -1, 0, 0x10001000)); /* FIXED_NOREPLACE */
	CHECK(stops(__NR_mmap, 0, 4096, 3, 0x22, -1, 0, 0x7e0100001000L));	   /* the runtime's range */
	CHECK(stops(__NR_mmap, 0x30000000, 4096, 3, 0x32, -1, 0, 0x50000000) && strstr(last, "MAP_FIXED"));
	CHECK(!stops(__NR_munmap, 0x10000000, 8192, 0, 0, 0, 0, 0));
	CHECK(!stops(__NR_mmap, 0, 4096, 3, 0x22, -1, 0, 0x10001000)); /* free again */
	CHECK(!stops(__NR_mmap, 0, 4096, 3, 0x22, -1, 0, 0x20000000));
	CHECK(stops(__NR_mremap, 0x20000000, 4096, 8192, 1, 0, 0, 0x10000000) &&
	      strstr(last, "mremap"));						 /* moved onto 0x10001000 */
	CHECK(!stops(__NR_mremap, 0x20000000, 4096, 8192, 1, 0, 0, 0x20000000)); /* grew in place */
	CHECK(stops(__NR_mremap, 0x1fffe000, 4096, 12288, 0, 0, 0, 0x1fffe000)); /* grows into 0x20000000 */
	test_pristine();
	test_alias();
	test_alias_held();
	return test_summary("test_iago");
}
