/* Unit test of the stub segments' site tables (runtime/src/core/stubmap.c):
 * a segment built as pkg/rewrite lays it out (header, stubs, table) maps
 * every instruction boundary of two patched ranges to the stub and back;
 * the stub's own instructions and the middle of a syscall stay as they
 * are; malformed tables are not kept; forgetting a range drops its
 * segment. */
#include <stdint.h>
#include <string.h>
#include "loader.h"
#include "stubmap.h"
#include "testutil.h"

/* Stub code offsets from the end of the displaced instructions before the
 * syscall (pkg/rewrite doc.go). */
#define SYSCALL_OFF 28
#define AFTER_OFF 30

struct ent {
	uint32_t stub;
	int32_t start;
	uint8_t sc, len;
	uint8_t zero[6];
};

static _Alignas(4096) unsigned char text[8192]; /* patched ranges live here */
static _Alignas(4096) unsigned char seg[8192];	/* the stub segment */

/* A segment with two sites: A (3 bytes before the syscall, 2 after) and B
 * (the syscall first, 3 after). */
static void build(uint32_t version, struct ent *e, unsigned n, uint32_t tab_off)
{
	memset(seg, 0xcc, sizeof seg);
	memcpy(seg, RT_STUB_MAGIC, 8);
	memcpy(seg + 8, &version, 4);
	memcpy(seg + 12, &n, 4);
	memset(seg + 16, 0, 8);
	memcpy(seg + RT_STUB_TABLE_OFF, &tab_off, 4);
	memcpy(seg + tab_off, e, n * sizeof *e);
}

static unsigned long S(unsigned long off) { return (unsigned long)seg + off; }
static unsigned long T(unsigned long off) { return (unsigned long)text + off; }

static void sites(struct ent e[2])
{
	long d = (long)((unsigned long)text - (unsigned long)seg);
	e[0] = (struct ent){.stub = 0x100, .start = (int32_t)(d + 0x10), .sc = 3, .len = 7};
	e[1] = (struct ent){.stub = 0x140, .start = (int32_t)(d + 0x40), .sc = 0, .len = 5};
}

int main(void)
{
	struct ent e[2];
	sites(e);
	build(2, e, 2, 0x200);
	rt_stubmap_add((unsigned long)seg, sizeof seg);

	/* site A: range text+0x10..0x17, stub seg+0x100 */
	for (unsigned k = 0; k < 3; k++) {
		CHECK_EQ(rt_stubmap_to_site(S(0x100 + k)), T(0x10 + k));
		CHECK_EQ(rt_stubmap_to_stub(T(0x10 + k)), S(0x100 + k));
	}
	CHECK_EQ(rt_stubmap_to_stub(T(0x13)), S(0x103));	       /* the syscall: the stub's way in */
	CHECK_EQ(rt_stubmap_to_site(S(0x103 + SYSCALL_OFF)), T(0x13)); /* its own syscall (restart) */
	CHECK_EQ(rt_stubmap_to_stub(T(0x14)), T(0x14));		       /* the middle of the syscall */
	for (unsigned k = 0; k < 2; k++) {
		CHECK_EQ(rt_stubmap_to_site(S(0x103 + AFTER_OFF + k)), T(0x15 + k));
		CHECK_EQ(rt_stubmap_to_stub(T(0x15 + k)), S(0x103 + AFTER_OFF + k));
	}
	CHECK_EQ(rt_stubmap_to_site(S(0x103 + AFTER_OFF + 2)), T(0x17)); /* the jump back: the range's end */
	CHECK_EQ(rt_stubmap_to_stub(T(0x17)), T(0x17));			 /* past the range */
	CHECK_EQ(rt_stubmap_to_stub(T(0x0f)), T(0x0f));
	CHECK_EQ(rt_stubmap_to_site(S(0x103)), T(0x13)); /* the stub's way in: the syscall not yet made */
	/* the stub's own instructions: the call, R, S */
	for (unsigned k = 4; k < 3 + SYSCALL_OFF; k++)
		CHECK_EQ(rt_stubmap_to_site(S(0x100 + k)), S(0x100 + k));
	CHECK_EQ(rt_stubmap_to_site(S(0x103 + AFTER_OFF + 3)), S(0x103 + AFTER_OFF + 3));

	/* site B: the syscall first */
	CHECK_EQ(rt_stubmap_to_stub(T(0x40)), S(0x140));
	CHECK_EQ(rt_stubmap_to_site(S(0x140 + SYSCALL_OFF)), T(0x40));
	for (unsigned k = 0; k < 3; k++) {
		CHECK_EQ(rt_stubmap_to_site(S(0x140 + AFTER_OFF + k)), T(0x42 + k));
		CHECK_EQ(rt_stubmap_to_stub(T(0x42 + k)), S(0x140 + AFTER_OFF + k));
	}
	/* outside every segment and range */
	CHECK_EQ(rt_stubmap_to_site(S(0x40)), S(0x40));
	CHECK_EQ(rt_stubmap_to_site(12345), 12345UL);
	CHECK_EQ(rt_stubmap_to_stub(T(0x30)), T(0x30));

	/* forgotten with its mapping */
	rt_stubmap_forget(S(0x2000), S(0x3000)); /* next to it */
	CHECK_EQ(rt_stubmap_to_stub(T(0x10)), S(0x100));
	rt_stubmap_forget(S(0x1fff), S(0x2000)); /* its last byte */
	CHECK_EQ(rt_stubmap_to_stub(T(0x10)), T(0x10));
	CHECK_EQ(rt_stubmap_to_site(S(0x100)), S(0x100));

	/* malformed segments keep no table */
	enum { NONE, UNSORTED, SYSCALL_OUTSIDE, SHORT, RESERVED, STUB_IN_TABLE };
	struct {
		const char *what;
		uint32_t version, tab_off;
		int mangle;
	} bad[] = {
		{"version 1 (no table)", 1, 0x200, NONE},
		{"table past the mapping", 2, sizeof seg - 16, NONE},
		{"table not aligned", 2, 0x204, NONE},
		{"ranges out of order", 2, 0x200, UNSORTED},
		{"syscall outside its range", 2, 0x200, SYSCALL_OUTSIDE},
		{"range shorter than a jmp", 2, 0x200, SHORT},
		{"reserved bytes set", 2, 0x200, RESERVED},
		{"stub inside the table", 2, 0x200, STUB_IN_TABLE},
	};
	for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		sites(e);
		switch (bad[i].mangle) {
		case UNSORTED:
			e[1].start = e[0].start + 2;
			break;
		case SYSCALL_OUTSIDE:
			e[0].sc = 6;
			break;
		case SHORT:
			e[1].len = 4;
			break;
		case RESERVED:
			e[0].zero[3] = 1;
			break;
		case STUB_IN_TABLE:
			e[1].stub = 0x200;
			break;
		}
		build(bad[i].version, e, 2, bad[i].tab_off < sizeof seg - 32 ? bad[i].tab_off : 0x200);
		if (bad[i].tab_off >= sizeof seg - 32) /* the header says so; the entries sit elsewhere */
			memcpy(seg + RT_STUB_TABLE_OFF, &bad[i].tab_off, 4);
		rt_stubmap_add((unsigned long)seg, sizeof seg);
		CHECK_MSG(rt_stubmap_to_stub(T(0x10)) == T(0x10) && rt_stubmap_to_site(S(0x100)) == S(0x100),
			  "%s: a table was kept", bad[i].what);
		rt_stubmap_reset();
	}

	/* round trip over both ranges: every original address but the
	 * syscall's second byte comes back to itself */
	sites(e);
	build(2, e, 2, 0x200);
	rt_stubmap_add((unsigned long)seg, sizeof seg);
	for (unsigned k = 0x10; k < 0x17; k++)
		if (k != 0x14)
			CHECK_MSG(rt_stubmap_to_site(rt_stubmap_to_stub(T(k))) == T(k), "text+%#x", k);
	for (unsigned k = 0x40; k < 0x45; k++)
		if (k != 0x41)
			CHECK_MSG(rt_stubmap_to_site(rt_stubmap_to_stub(T(k))) == T(k), "text+%#x", k);
	rt_stubmap_reset();
	return test_summary("test_stubmap");
}
