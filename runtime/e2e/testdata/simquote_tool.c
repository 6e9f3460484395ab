/* Test tool: the runtime's simulation quote builder (runtime/lib/simquote.c)
 * outside the runtime. stdin: a 32-byte P-256 private scalar and a 384-byte
 * report body; stdout: the 1064-byte simulation quote (simquote_test.go). */
#include <stdio.h>
#include <stdint.h>

#include "simquote.h"

int main(void)
{
	uint8_t in[32 + SGX_REPORT_BODY], q[SIMQUOTE_SIZE];
	if (fread(in, 1, sizeof in, stdin) != sizeof in) {
		fprintf(stderr, "simquote_tool: want %zu bytes on stdin\n", sizeof in);
		return 2;
	}
	if (simquote_build(in + 32, in, q)) {
		fprintf(stderr, "simquote_tool: not a valid P-256 private key\n");
		return 1;
	}
	return fwrite(q, 1, sizeof q, stdout) == sizeof q ? 0 : 1;
}
