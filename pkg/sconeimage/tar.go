package sconeimage

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// TarOptions say how WriteTar stamps entries.
type TarOptions struct {
	ModTime time.Time // of every entry
	Owner   string    // user and group name of every entry ("": none)
}

// WriteTar writes files and their parent directories (mode 0755) as a PAX
// tar in name order, every entry owned by uid/gid 0 and stamped with
// opts.ModTime: the same files always give the same bytes. Paths must be
// clean and absolute.
func WriteTar(w io.Writer, files []File, opts TarOptions) error {
	ents := make([]tarFile, len(files))
	for i, f := range files {
		ents[i] = tarFile{path: f.Path, mode: f.Mode, content: NewBlob(f.Data)}
	}
	return writeTar(w, ents, opts)
}

// tarFile is a file whose content may be a multi-part blob.
type tarFile struct {
	path    string
	mode    int64
	content Blob
}

func writeTar(w io.Writer, files []tarFile, opts TarOptions) error {
	dirs := map[string]bool{}
	for _, f := range files {
		if !path.IsAbs(f.path) || path.Clean(f.path) != f.path || f.path == "/" {
			return fmt.Errorf("writing layer entry %q: not a clean absolute path", f.path)
		}
		for d := path.Dir(f.path); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	type ent struct {
		name string
		f    *tarFile
	}
	ents := make([]ent, 0, len(dirs)+len(files))
	for d := range dirs {
		ents = append(ents, ent{name: strings.TrimPrefix(d, "/") + "/"})
	}
	for i := range files {
		ents = append(ents, ent{name: strings.TrimPrefix(files[i].path, "/"), f: &files[i]})
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].name < ents[j].name })
	tw := tar.NewWriter(w)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, ModTime: opts.ModTime, Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatPAX,
			Uname: opts.Owner, Gname: opts.Owner}
		if e.f != nil {
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, e.f.mode, e.f.content.Size()
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("writing layer entry %q: %w", e.name, err)
		}
		if e.f == nil {
			continue
		}
		for _, p := range e.f.content.Parts() {
			if _, err := tw.Write(p); err != nil {
				return fmt.Errorf("writing layer entry %q: %w", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing layer: %w", err)
	}
	return nil
}
