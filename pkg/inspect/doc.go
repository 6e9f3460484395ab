// Package inspect reads converted images back: it finds the runtime and
// enclave files in an image's layers, summarises the enclave identity
// (MRENCLAVE, MRSIGNER, SIGSTRUCT attributes, the measured config, the
// protected FS image) and verifies a converted image offline: the SIGSTRUCT
// signature, the measurement recomputed from the image's own runtime and
// config, the FS root binding, the labels, and (with the FS key) every file.
package inspect
