/* libdep: a shared library for the RPATH/RUNPATH/$ORIGIN closure tests. */
int dep_value(void) { return 42; }
