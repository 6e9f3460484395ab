/* scone-host: host-side SGX check and driver/AESM set-up plan.
 *
 *   scone-host check            report CPU, driver, kernel and AESM state;
 *                               exit 0 if SGX hardware mode could run here,
 *                               1 if not (sim mode always works), 2 usage
 *   scone-host install [--yes]  print the set-up plan for this host; with
 *                               --yes, carry out the steps it can do itself */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "sgxprobe.h"

static const char *yn(int v) { return v ? "yes" : "no"; }

static int hw_ready(const struct sgx_probe *p) { return p->cpuid_sgx && p->sgx1 && p->nepc > 0 && p->dev_enclave; }

static int cmd_check(void)
{
	struct sgx_probe p;
	sgx_probe_run(&p);
	printf("CPU\n");
	printf("  SGX (CPUID.(7,0):EBX[2])              %s\n", yn(p.cpuid_sgx));
	printf("  flexible launch control (ECX[30])     %s\n", yn(p.cpuid_sgx_lc));
	if (p.leaf12) {
		printf("  SGX1 / SGX2 (CPUID.(12h,0):EAX)       %s / %s\n", yn(p.sgx1), yn(p.sgx2));
		printf("  MISCSELECT                            0x%08x\n", p.miscselect);
		printf("  max enclave size (64-bit)             2^%u bytes\n", p.max_enclave_bits64);
		printf("  ATTRIBUTES mask flags/xfrm            0x%016llx / 0x%016llx\n",
		       (unsigned long long)p.attr_flags, (unsigned long long)p.attr_xfrm);
		for (int i = 0; i < p.nepc; i++)
			printf("  EPC section %d                         base 0x%llx size %llu MiB\n", i,
			       (unsigned long long)p.epc[i].base, (unsigned long long)(p.epc[i].size >> 20));
		if (!p.nepc)
			printf("  EPC sections                          none reported (SGX disabled in firmware?)\n");
	} else {
		printf("  CPUID leaf 0x12 (SGX capabilities)    not reported\n");
	}
	printf("Driver\n");
	printf("  /dev/sgx_enclave                      %s\n", yn(p.dev_enclave));
	printf("  /dev/sgx_provision                    %s\n", yn(p.dev_provision));
	printf("  legacy out-of-tree driver node        %s\n", yn(p.dev_legacy));
	printf("Kernel %s\n", p.krelease);
	printf("  in-tree SGX driver (5.11+)            %s\n", yn(sgx_kernel_at_least(p.kmajor, p.kminor, 5, 11)));
	printf("  EDMM / SGX2 page management (6.0+)    %s\n", yn(sgx_kernel_at_least(p.kmajor, p.kminor, 6, 0)));
	if (p.mmap_min_addr >= 0)
		printf("  vm.mmap_min_addr                      %ld (page 0 %s; scone-run does not need it: its "
		       "rewritten sites jump to stubs in the program's own file, docs/rewrite.md)\n",
		       p.mmap_min_addr, p.mmap_min_addr ? "not mappable" : "mappable");
	else
		printf("  vm.mmap_min_addr                      unreadable\n");
	printf("AESM\n");
	printf("  /var/run/aesmd/aesm.socket            %s\n", yn(p.aesm_socket));
	int ok = hw_ready(&p);
	printf("Result: SGX hardware mode %s; simulation mode (SCONE_MODE=sim) works on any x86-64 Linux 5.11+\n",
	       ok ? "possible" : "NOT possible on this host");
	if (ok && !p.aesm_socket)
		printf("  note: no AESM socket: attestation (quotes) will not work until aesmd runs\n");
	return ok ? 0 : 1;
}

static int cmd_install(int yes)
{
	struct sgx_probe p;
	sgx_probe_run(&p);
	int intree = sgx_kernel_at_least(p.kmajor, p.kminor, 5, 11);
	printf("Set-up plan for this host (kernel %s):\n", p.krelease);
	if (!p.cpuid_sgx) {
		printf("  1. This CPU does not report SGX (CPUID.(7,0):EBX[2] = 0): nothing can be installed;\n"
		       "     enable SGX in the firmware if the CPU has it, or use SCONE_MODE=sim.\n");
		if (yes)
			fprintf(stderr, "scone-host: refusing to install: no SGX on this CPU\n");
		return 1;
	}
	int step = 1;
	if (intree) {
		printf("  %d. in-tree driver (CONFIG_X86_SGX): %s\n", step++,
		       p.dev_enclave ? "present (/dev/sgx_enclave)" :
				       "kernel too new for the out-of-tree driver; "
				       "rebuild/boot a kernel with CONFIG_X86_SGX=y");
	} else {
		printf("  %d. kernel < 5.11: install Intel's out-of-tree DCAP driver (linux-sgx-driver),\n"
		       "     build it against this kernel's headers and load it (creates /dev/sgx/enclave)\n",
		       step++);
	}
	printf("  %d. device permissions: group 'sgx' for /dev/sgx_enclave, 'sgx_prv' for /dev/sgx_provision\n"
	       "     (udev rule /etc/udev/rules.d/90-scone-sgx.rules)\n",
	       step++);
	printf("  %d. AESM service (Intel sgx-aesm-service, socket /var/run/aesmd/aesm.socket): %s\n", step++,
	       p.aesm_socket ? "running" : "install from Intel's SGX package repository and start aesmd");
	if (!sgx_kernel_at_least(p.kmajor, p.kminor, 6, 0))
		printf("  %d. optional: kernel 6.0+ for EDMM (SGX2 dynamic memory)\n", step++);
	if (!yes) {
		printf("Nothing was changed. Run 'scone-host install --yes' to apply the steps scone-host can do "
		       "itself (udev rule).\n");
		return 0;
	}
	const char *rule = "/etc/udev/rules.d/90-scone-sgx.rules";
	FILE *f = fopen(rule, "w");
	if (!f) {
		perror(rule);
		return 1;
	}
	fprintf(f, "SUBSYSTEM==\"misc\", KERNEL==\"sgx_enclave\", GROUP=\"sgx\", MODE=\"0660\"\n"
		   "SUBSYSTEM==\"misc\", KERNEL==\"sgx_provision\", GROUP=\"sgx_prv\", MODE=\"0660\"\n");
	fclose(f);
	printf("wrote %s; the driver and AESM steps need the distribution's packages (see above)\n", rule);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "check") && argc == 2)
		return cmd_check();
	if (argc >= 2 && !strcmp(argv[1], "install") && argc <= 3) {
		int yes = argc == 3 && !strcmp(argv[2], "--yes");
		if (argc == 3 && !yes)
			goto usage;
		return cmd_install(yes);
	}
usage:
	fprintf(stderr, "usage: scone-host check\n       scone-host install [--yes]\n");
	return 2;
}
