/* usedep: links against libdep.so. */
#include <stdio.h>

int dep_value(void);

int main(void) {
	printf("%d\n", dep_value());
	return 0;
}
