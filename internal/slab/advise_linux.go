package slab

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of an x86-64 (and arm64 4K-granule) huge page.
const hugePage = 2 << 20

// advise asks for huge pages over b's range rounded out to whole huge
// pages: a block is rarely aligned, and without rounding out only its
// aligned interior would qualify. The rounded range may cover neighbouring
// heap memory, which only changes how the kernel backs it. Errors (no THP
// support, a range reaching past the heap's mapping) are ignored: the
// advice is a hint.
func advise(b []byte) {
	if len(b) < hugePage {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	start := p &^ (hugePage - 1)
	end := (p + uintptr(len(b)) + hugePage - 1) &^ (hugePage - 1)
	syscall.Syscall(syscall.SYS_MADVISE, start, end-start, syscall.MADV_HUGEPAGE)
}
