// Package slab hands out byte slices carved from large blocks of
// garbage-collected memory that the kernel is asked to back with
// transparent huge pages.
//
// A conversion reads every file of an image into memory (about the image's
// uncompressed size) and encrypts most of it ahead into as much again.
// Each of those bytes is touched first by a copy, and on a host whose
// transparent huge pages are "madvise" (the default of many distributions)
// Go's heap gets 4 KiB pages: one page fault per 4 KiB. On the 2-core PVM
// guest of docs/benchmarks.md a fault costs 3-10 us, so first-touching
// 200 MB took 0.7 s; in blocks advised MADV_HUGEPAGE it took 0.03-0.2 s.
//
// The blocks are ordinary Go memory: a slice handed out keeps its block
// alive, so nothing is ever freed while referenced, and a block is
// collected once none of its slices is. The price is granularity: one
// live slice keeps its whole block (at most BlockSize) alive.
//
// The advice is a hint. Where the kernel has no huge pages to give, or on
// other systems, the allocator behaves like make.
package slab
