// Package enclave builds the identity of a SCONE-style SGX enclave: the
// measured enclave configuration (config.bin), the enclave page layout and its
// SGXS measurement stream (MRENCLAVE), the SIGSTRUCT that signs it, and the
// RSA-3072 (e = 3) signing keys, including detached signing through an
// external command.
//
// MRENCLAVE is a pure function of two byte strings, the runtime ELF
// (scone-run) and config.bin; the runtime (runtime/lib/sgxs.c) recomputes it
// in C with the identical layout. The formats are specified in
// docs/enclave.md.
//
// Typical use:
//
//	cfg := enclave.DefaultConfig()
//	cfg.Argv, cfg.Entrypoint, cfg.FSRoot = ...
//	bin, err := cfg.MarshalBinary()
//	m, err := enclave.Measure(bytes.NewReader(runtimeELF), bin)
//	ss, err := enclave.NewSigStruct(m.MRENCLAVE, enclave.WithDate(t))
//	signer, err := enclave.LoadKeySigner("signer.pem")
//	sigstruct, err := ss.Sign(ctx, signer) // 1808 bytes
//
// The package never prints, exits or panics on any input.
package enclave
