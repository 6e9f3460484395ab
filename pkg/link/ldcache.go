package link

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// ld.so.cache formats (glibc elf/dl-cache.h):
//
//	old:  "ld.so-1.7.0" nlibs:u32 {flags:i32 key:u32 value:u32}[nlibs] strings
//	new:  "glibc-ld.so.cache" "1.1" nlibs:u32 len_strings:u32 flags:u8 pad[3]
//	      extension_offset:u32 unused[3]:u32
//	      {flags:i32 key:u32 value:u32 osversion:u32 hwcap:u64}[nlibs] strings
//
// A file may hold the old format followed by the new one (aligned to 8). In
// the new format, key and value are offsets from the start of the new
// header. glibc 2.32+ writes only the new format.
const (
	ldCacheOldMagic = "ld.so-1.7.0"
	ldCacheNewMagic = "glibc-ld.so.cache1.1"

	ldCacheNewHeader = 48
	ldCacheNewEntry  = 24
	ldCacheOldHeader = 16
	ldCacheOldEntry  = 12

	// Entry flags: FLAG_ELF_LIBC6 | FLAG_X8664_LIB64.
	ldCacheX8664 = 0x0303

	maxLDCacheSize = 64 << 20
)

// CacheFormatError reports a malformed ld.so.cache at offset Off.
type CacheFormatError struct {
	Off int64
	Msg string
}

func (e *CacheFormatError) Error() string {
	return fmt.Sprintf("malformed ld.so.cache at offset %#x: %s", e.Off, e.Msg)
}

// LDCacheEntry is one library of the cache.
type LDCacheEntry struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	Flags int32  `json:"flags"`
	HWCap uint64 `json:"hwcap,omitempty"`
}

// LDCache is a parsed /etc/ld.so.cache.
type LDCache struct {
	// Entries in file order (ldconfig sorts them, most preferred first).
	Entries []LDCacheEntry
	lookup  map[string]string
}

// ParseLDCache parses a glibc ld.so.cache ("glibc-ld.so.cache1.1", possibly
// after an "ld.so-1.7.0" section) from r of size bytes.
func ParseLDCache(r io.ReaderAt, size int64) (*LDCache, error) {
	if size < 0 || size > maxLDCacheSize {
		return nil, &CacheFormatError{0, fmt.Sprintf("size %d out of range", size)}
	}
	data := make([]byte, size)
	if n, err := r.ReadAt(data, 0); n != len(data) {
		if err == nil || err == io.EOF {
			return nil, &CacheFormatError{int64(n), "truncated"}
		}
		return nil, fmt.Errorf("read ld.so.cache: %w", err)
	}
	start := 0
	switch {
	case bytes.HasPrefix(data, []byte(ldCacheNewMagic)):
	case bytes.HasPrefix(data, []byte(ldCacheOldMagic)):
		if len(data) < ldCacheOldHeader {
			return nil, &CacheFormatError{0, "old header truncated"}
		}
		n := uint64(le.Uint32(data[12:]))
		if n > uint64(len(data))/ldCacheOldEntry {
			return nil, &CacheFormatError{12, fmt.Sprintf("%d old-format entries do not fit", n)}
		}
		end := ldCacheOldHeader + n*ldCacheOldEntry
		end = (end + 7) &^ 7
		if end >= uint64(len(data)) || !bytes.HasPrefix(data[end:], []byte(ldCacheNewMagic)) {
			return nil, &CacheFormatError{int64(min(end, uint64(len(data)))), "old-format cache without a new-format section (not supported)"}
		}
		start = int(end)
	default:
		return nil, &CacheFormatError{0, "bad magic"}
	}
	d := data[start:]
	if len(d) < ldCacheNewHeader {
		return nil, &CacheFormatError{int64(start), "header truncated"}
	}
	n := uint64(le.Uint32(d[20:]))
	if n > uint64(len(d)-ldCacheNewHeader)/ldCacheNewEntry {
		return nil, &CacheFormatError{int64(start + 20), fmt.Sprintf("%d entries do not fit in %d bytes", n, len(d))}
	}
	c := &LDCache{lookup: map[string]string{}}
	str := func(off uint32, at int) (string, error) {
		if uint64(off) >= uint64(len(d)) {
			return "", &CacheFormatError{int64(start + at), fmt.Sprintf("string offset %#x out of range", off)}
		}
		i := bytes.IndexByte(d[off:], 0)
		if i < 0 {
			return "", &CacheFormatError{int64(start) + int64(off), "unterminated string"}
		}
		return string(d[off : int(off)+i]), nil
	}
	for i := uint64(0); i < n; i++ {
		at := ldCacheNewHeader + int(i)*ldCacheNewEntry
		e := d[at:]
		flags := int32(le.Uint32(e[0:]))
		name, err := str(le.Uint32(e[4:]), at+4)
		if err != nil {
			return nil, err
		}
		p, err := str(le.Uint32(e[8:]), at+8)
		if err != nil {
			return nil, err
		}
		ent := LDCacheEntry{Name: name, Path: p, Flags: flags, HWCap: le.Uint64(e[16:])}
		c.Entries = append(c.Entries, ent)
		if (flags == ldCacheX8664 || flags == 1) && ent.HWCap == 0 {
			if _, dup := c.lookup[name]; !dup {
				c.lookup[name] = p
			}
		}
	}
	return c, nil
}

// Lookup returns the path of the x86-64 library name (a DT_NEEDED name) as
// the dynamic loader would find it in the cache (glibc-hwcaps subdirectory
// entries are not used).
func (c *LDCache) Lookup(name string) (string, bool) {
	if c == nil {
		return "", false
	}
	p, ok := c.lookup[name]
	return p, ok
}

// parseLDConf reads an ld.so.conf file (and its include globs) from the
// image and returns its directories in order. Missing files give no
// directories (as ldconfig warns and goes on).
func parseLDConf(fsys FS, file string, depth int, seen map[string]bool) []string {
	if depth > 8 {
		return nil
	}
	real, err := resolvePath(fsys, file)
	if err != nil || seen[real] {
		return nil
	}
	seen[real] = true
	data, err := readSmallFile(fsys, real, 1<<20)
	if err != nil {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "include"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			for _, pat := range strings.Fields(rest) {
				if !strings.HasPrefix(pat, "/") {
					pat = path.Join(path.Dir("/"+file), pat)
				}
				for _, m := range globImage(fsys, pat) {
					dirs = append(dirs, parseLDConf(fsys, m, depth+1, seen)...)
				}
			}
			continue
		}
		if strings.HasPrefix(line, "hwcap") && len(line) > 5 && (line[5] == ' ' || line[5] == '\t') {
			continue
		}
		// Legacy "dir=TYPE"; several directories may share a line.
		for _, d := range strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ':' || r == ',' }) {
			if i := strings.IndexByte(d, '='); i >= 0 {
				d = d[:i]
			}
			if d != "" {
				dirs = append(dirs, path.Clean("/"+d))
			}
		}
	}
	return dirs
}

// globImage expands a glob whose directory part has no metacharacters (as
// ld.so.conf includes are written) inside the image, sorted.
func globImage(fsys FS, pat string) []string {
	dir, base := path.Split(path.Clean(pat))
	if strings.ContainsAny(dir, "*?[") {
		return nil
	}
	rd, err := resolvePath(fsys, dir)
	if err != nil {
		return nil
	}
	ents, err := fs.ReadDir(fsys, rd)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if ok, _ := path.Match(base, e.Name()); ok {
			out = append(out, path.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}
