// Package convert is the scone-build conversion pipeline.
//
// The filesystem-level core, ConvertTree, takes a flattened root file system
// and the source image config and produces the converted files (runtime,
// protected FS image, measured enclave config, SIGSTRUCT) and the output
// image config. It depends on no registry or manifest, so the CLI and the
// BuildKit frontend share it. Convert wraps it for v1.Image: it flattens the
// source layers and assembles the output image from two layers:
//
//   - the runtime base layer (/scone/bin/scone-run, /scone/bin/scone-host),
//     whose bytes and digest are identical for every conversion made by the
//     same scone-build version, so registries and engines store it once;
//   - the enclave layer (/scone/enclave/fs.img, config.bin, sigstruct.bin),
//     uncompressed: its bulk is ciphertext, which does not compress.
//
// Output is deterministic: the same input, keys and options give the same
// manifest digest (timestamps come from WithDate, which the CLI sets from SOURCE_DATE_EPOCH, the
// SIGSTRUCT is signed with deterministic RSASSA-PKCS1-v1_5, and every tar is
// written in sorted order). The package never prints: progress goes to the
// WithProgress callback and logs to the WithLogger logger.
package convert
