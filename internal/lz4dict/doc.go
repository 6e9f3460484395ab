// Package lz4dict compresses blocks into the LZ4 block format against a
// dictionary, and trains such dictionaries from samples.
//
// The protected FS compresses every chunk on its own so that a random read
// decodes only the chunk it touches; a 4 KiB block alone finds few matches.
// A dictionary of up to 64 KiB, trained from the image's own contents and
// stored once per image, gives every chunk a history to refer to: the
// decoder is LZ4's own (LZ4_decompress_safe_usingDict in the runtime, as
// fast as without a dictionary when it sits just before the output;
// pierrec/lz4's UncompressBlockWithDict in Go, ~1.4x slower than without
// one: docs/benchmarks.md).
//
// pierrec/lz4 cannot compress against a dictionary, hence the Encoder
// here. The dictionary's hash table and chains are built once and shared.
// LevelFast starts each block's table from the dictionary's and looks up
// one candidate per position; LevelHC walks chains through the block and
// the dictionary with lazy matching.
// Train is a FASTCOVER-style trainer (Liao, Petri, Moffat, Wirth:
// "Effective construction of relative Lempel-Ziv dictionaries", WWW 2016;
// zstd's dictBuilder): it picks the segments of the samples whose 8-byte
// substrings are the most frequent.
package lz4dict
