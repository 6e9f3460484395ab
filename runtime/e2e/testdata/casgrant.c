/* Prints what a CAS policy grants an enclave (cas_test.go): its arguments,
 * some environment variables, and the files the policy places, with their
 * mode and owner. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		printf("argv[%d]=%s\n", i, i == 0 ? "(prog)" : argv[i]);
	static const char *const vars[] = {"E2E_VAR", "DB_PASSWORD", "API_TOKEN", "SCONE_SIM_QUOTE_KEY_FILE"};
	for (unsigned i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *v = getenv(vars[i]);
		printf("%s=%s\n", vars[i], v ? v : "(unset)");
	}
	static const char *const files[] = {"/etc/app/app.conf", "/run/secrets/deep/blob.bin", "/etc/replaced"};
	for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++) {
		struct stat st;
		if (stat(files[i], &st)) {
			printf("%s: missing\n", files[i]);
			continue;
		}
		printf("%s: mode %o uid %u gid %u size %lld: ", files[i], (unsigned)(st.st_mode & 07777),
		       (unsigned)st.st_uid, (unsigned)st.st_gid, (long long)st.st_size);
		FILE *f = fopen(files[i], "rb");
		int c;
		while (f && (c = fgetc(f)) != EOF)
			printf(c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
		printf("\n");
		if (f)
			fclose(f);
	}
	return 0;
}
