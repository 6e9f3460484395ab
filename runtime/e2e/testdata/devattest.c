/* Uses Gramine's /dev/attestation as a program written for Gramine does
 * (devattest_test.go): writes REPORTDATA, reads the quote and the sealing
 * keys, and prints them in hex, one per line ("name: hex" or
 * "name: error N"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void show(const char *name, const char *path)
{
	static unsigned char buf[16384];
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("%s: error %d\n", name, errno);
		return;
	}
	ssize_t n = 0, r;
	while ((r = read(fd, buf + n, sizeof buf - (size_t)n)) > 0)
		n += r;
	close(fd);
	printf("%s: ", name);
	for (ssize_t i = 0; i < n; i++)
		printf("%02x", buf[i]);
	printf("\n");
}

int main(void)
{
	unsigned char rd[64];
	for (int i = 0; i < 64; i++)
		rd[i] = (unsigned char)(i * 3 + 1);
	int fd = open("/dev/attestation/user_report_data", O_WRONLY | O_TRUNC);
	if (fd < 0)
		printf("write: error %d\n", errno);
	else {
		ssize_t w = write(fd, rd, sizeof rd);
		ssize_t bad = write(fd, rd, 10);
		printf("write: %zd, short write: %s\n", w, bad < 0 && errno == EINVAL ? "EINVAL" : "accepted");
		close(fd);
	}
	show("report_data", "/dev/attestation/user_report_data");
	show("quote", "/dev/attestation/quote");
	show("mrenclave_key", "/dev/attestation/keys/_sgx_mrenclave");
	show("mrsigner_key", "/dev/attestation/keys/_sgx_mrsigner");
	show("other", "/dev/attestation/keys/_sgx_other");
	return 0;
}
