/* Unit test of scone-host's kernel version logic (runtime/src/host/sgxprobe.c)
 * and a smoke test of the probe on this machine. */
#include "../src/host/sgxprobe.h"
#include <stdio.h>
#include "testutil.h"

int main(void)
{
	int ma = -1, mi = -1;
	CHECK(sgx_parse_kernel("6.18.44-fc-v595", &ma, &mi) == 0 && ma == 6 && mi == 18);
	CHECK(sgx_parse_kernel("5.4.0-150-generic", &ma, &mi) == 0 && ma == 5 && mi == 4);
	CHECK(sgx_parse_kernel("garbage", &ma, &mi) != 0);
	CHECK(sgx_kernel_at_least(5, 11, 5, 11));
	CHECK(sgx_kernel_at_least(6, 0, 5, 11));
	CHECK(!sgx_kernel_at_least(5, 10, 5, 11));
	CHECK(!sgx_kernel_at_least(4, 19, 5, 11));
	CHECK(sgx_kernel_at_least(6, 1, 6, 0) && !sgx_kernel_at_least(5, 19, 6, 0));
	struct sgx_probe p;
	sgx_probe_run(&p);
	CHECK(p.krelease[0] != 0 && p.kmajor >= 5);
	CHECK(p.nepc == 0 || p.cpuid_sgx);
	return test_summary("test_host_probe");
}
