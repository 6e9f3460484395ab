// Package sconeimage is the contract of a converted image, in one place:
// where the runtime and the enclave files live and with which modes, the
// labels and annotations that carry the enclave's identity, how the two
// layers are built (byte for byte), and how a converted image is read back.
//
// pkg/convert produces Contents; the CLI writes them (Image, WriteDir);
// pkg/inspect and the BuildKit frontend read and rebuild them through this
// package and never build their own tars. docs/contracts.md is the spec.
//
// An image is two layers:
//
//   - the runtime base layer (/scone/bin/scone-run, /scone/bin/scone-host),
//     whose bytes and digest depend only on the runtime binaries, so
//     registries and engines store it once for every conversion by the same
//     scone-build version;
//   - the enclave layer (/scone/enclave/fs.img, config.bin, sigstruct.bin),
//     gzip with stored blocks: its bulk is ciphertext, which does not
//     compress, and the FS image is referenced, never copied.
package sconeimage
