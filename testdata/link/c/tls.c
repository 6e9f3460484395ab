/* tls: a shared library with an initial-exec TLS variable (DF_STATIC_TLS). */
__thread int counter __attribute__((tls_model("initial-exec")));

int bump(void) { return ++counter; }
