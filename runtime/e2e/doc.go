// Package e2e holds end-to-end tests of the scone-run runtime: programs of
// every supported kind (glibc dynamic, static, static-pie, musl static and
// dynamic, static Go, pthreads, signals) run under the runtime in dev mode
// and must behave like native runs; sim mode is checked with a real signed
// enclave (config.bin, SIGSTRUCT, protected FS image) and its failure modes.
//
// The runtime binary is $SCONE_RUN, else ../build/scone-run (`make runtime`).
package e2e
