package volume

// Page geometry (docs/volume.md, "Files: pages and the tag tree").
const (
	// PageSize is the size of a page: data pages hold PageSize bytes of a
	// file, tag pages 256 seals.
	PageSize  = 4096
	pageLog2  = 12
	fanout    = PageSize / 16
	fanLog2   = 8
	maxDepth  = 4
	tagSize   = 16
	maxLevels = maxDepth + 1
	// MaxFileSize is the largest file a volume holds (2^44 bytes, 16 TiB).
	MaxFileSize = uint64(1) << (pageLog2 + fanLog2*maxDepth)
)

// npages is the number of data pages of a file of size bytes.
func npages(size uint64) uint64 { return (size + PageSize - 1) >> pageLog2 }

// depthOf is the depth of the tag tree of a file of n data pages.
func depthOf(n uint64) int {
	d := 0
	for cover := uint64(1); cover < n; cover <<= fanLog2 {
		d++
	}
	return d
}

// count is the number of nodes of level l (0: data pages) for n pages.
func count(n uint64, l int) uint64 {
	if n == 0 {
		return 0
	}
	sh := uint(fanLog2 * l)
	return ((n - 1) >> sh) + 1
}

// dataPos is the page number of data page i in the host file.
func dataPos(i uint64) uint64 {
	p := i
	for l := 1; l <= maxDepth; l++ {
		p += (i >> uint(fanLog2*l)) + 1
	}
	return p
}

// nodePos is the page number of node (l, j) in the host file: l = 0 a data
// page, else a tag page.
func nodePos(l int, j uint64) uint64 {
	if l == 0 {
		return dataPos(j)
	}
	return dataPos(j<<uint(fanLog2*l)) - uint64(l)
}
