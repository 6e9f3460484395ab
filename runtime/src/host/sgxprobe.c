/* SGX host probing: CPUID leaves, device nodes, kernel version, AESM. */
#include <cpuid.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include "sgxprobe.h"

int sgx_parse_kernel(const char *release, int *major, int *minor)
{
	int ma, mi;
	if (sscanf(release, "%d.%d", &ma, &mi) != 2 || ma < 0 || mi < 0)
		return -1;
	*major = ma;
	*minor = mi;
	return 0;
}

int sgx_kernel_at_least(int major, int minor, int want_major, int want_minor)
{
	return major > want_major || (major == want_major && minor >= want_minor);
}

static int exists(const char *path, int want_sock)
{
	struct stat st;
	if (stat(path, &st))
		return 0;
	return want_sock ? S_ISSOCK(st.st_mode) : 1;
}

void sgx_probe_run(struct sgx_probe *p)
{
	unsigned a, b, c, d;
	memset(p, 0, sizeof *p);
	unsigned max = __get_cpuid_max(0, 0);
	if (max >= 7) {
		__cpuid_count(7, 0, a, b, c, d);
		p->cpuid_sgx = (b >> 2) & 1;
		p->cpuid_sgx_lc = (c >> 30) & 1;
	}
	if (max >= 0x12 && p->cpuid_sgx) {
		p->leaf12 = 1;
		__cpuid_count(0x12, 0, a, b, c, d);
		p->sgx1 = a & 1;
		p->sgx2 = (a >> 1) & 1;
		p->miscselect = b;
		p->max_enclave_bits64 = (d >> 8) & 0xff;
		__cpuid_count(0x12, 1, a, b, c, d);
		p->attr_flags = (uint64_t)b << 32 | a;
		p->attr_xfrm = (uint64_t)d << 32 | c;
		for (unsigned sub = 2; sub < 2 + SGX_MAX_EPC; sub++) {
			__cpuid_count(0x12, sub, a, b, c, d);
			if ((a & 0xf) != 1)
				break;
			struct sgx_epc *e = &p->epc[p->nepc++];
			e->base = ((uint64_t)(b & 0xfffff) << 32) | (a & 0xfffff000u);
			e->size = ((uint64_t)(d & 0xfffff) << 32) | (c & 0xfffff000u);
		}
	}
	p->dev_enclave = exists("/dev/sgx_enclave", 0);
	p->dev_provision = exists("/dev/sgx_provision", 0);
	p->dev_legacy = exists("/dev/isgx", 0) || exists("/dev/sgx/enclave", 0);
	struct utsname u;
	if (!uname(&u)) {
		snprintf(p->krelease, sizeof p->krelease, "%s", u.release);
		sgx_parse_kernel(u.release, &p->kmajor, &p->kminor);
	}
	p->aesm_socket = exists("/var/run/aesmd/aesm.socket", 1);
	p->mmap_min_addr = -1;
	FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "r");
	if (f) {
		if (fscanf(f, "%ld", &p->mmap_min_addr) != 1)
			p->mmap_min_addr = -1;
		fclose(f);
	}
}
