/* liba: needs libdep.so (for the RPATH inheritance tests). */
int dep_value(void);

int a_value(void) { return dep_value() + 1; }
