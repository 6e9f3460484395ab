/* hello: the default command of the musl test image. */
#include <stdio.h>

int main(int argc, char **argv) {
	printf("hello from musl");
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	printf("\n");
	return 0;
}
