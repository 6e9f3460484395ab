/* SGX host probing for scone-host (ordinary host code, uses libc). */
#ifndef SCONE_SGXPROBE_H
#define SCONE_SGXPROBE_H
#include <stdint.h>

#define SGX_MAX_EPC 8

struct sgx_epc {
	uint64_t base, size;
};

struct sgx_probe {
	int cpuid_sgx;	  /* CPUID.(7,0):EBX[2] */
	int cpuid_sgx_lc; /* CPUID.(7,0):ECX[30] flexible launch control */
	int leaf12;	  /* leaf 0x12 is reported */
	int sgx1, sgx2;	  /* CPUID.(12h,0):EAX[0], EAX[1] */
	uint32_t miscselect;
	uint32_t max_enclave_bits64;
	uint64_t attr_flags, attr_xfrm; /* CPUID.(12h,1) */
	int nepc;
	struct sgx_epc epc[SGX_MAX_EPC];
	int dev_enclave, dev_provision,
		dev_legacy; /* /dev/sgx_enclave, /dev/sgx_provision, /dev/isgx or /dev/sgx/enclave */
	int kmajor, kminor;
	char krelease[128];
	int aesm_socket;
	long mmap_min_addr; /* vm.mmap_min_addr; -1: unreadable */
};

void sgx_probe_run(struct sgx_probe *p);
/* Parses "6.18.44-..." into major/minor; 0 on success. */
int sgx_parse_kernel(const char *release, int *major, int *minor);
/* Kernel feature levels: in-tree SGX driver (5.11+), EDMM/SGX2 support (6.0+). */
int sgx_kernel_at_least(int major, int minor, int want_major, int want_minor);
#endif
