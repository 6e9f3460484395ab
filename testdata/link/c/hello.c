/* hello: plain C program, built dynamic, static, static-pie, -no-pie, musl. */
#include <stdio.h>

int main(void) {
	printf("hello\n");
	return 0;
}
