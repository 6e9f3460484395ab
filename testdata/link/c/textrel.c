/* textrel: absolute addresses in code (-mcmodel=large -fno-pic, linked
 * with -z notext) make a shared library with text relocations. */
long value = 7;

long *value_addr(void) { return &value; }
