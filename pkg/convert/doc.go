// Package convert is the scone-build conversion pipeline.
//
// A Source (FromImage, FromDir, FromTree) gives the source image config and
// digest up front and the root file system when asked. Build converts it in
// stages: flatten (for an image, file contents are encrypted ahead while
// the layers are decompressed), pack the protected FS image while the
// entrypoint is analysed, build the measured enclave config, measure and
// sign the enclave (identity), and make the output image config. The
// Result holds the converted image as sconeimage.Contents (the contract of
// a converted image: paths, labels, layers, pkg/sconeimage), the parsed
// config and SIGSTRUCT, and a Report; the caller publishes it
// (Result.OCIImage, Contents.WriteDir).
//
// Output is deterministic: the same input, keys and options give the same
// manifest digest (timestamps come from WithDate, which the CLI sets from
// SOURCE_DATE_EPOCH, the SIGSTRUCT is signed with deterministic
// RSASSA-PKCS1-v1_5, and every tar is written in sorted order). The
// package never prints: progress goes to the WithProgress callback and logs
// to the WithLogger logger.
package convert
