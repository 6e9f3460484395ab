package convert

import (
	"archive/tar"
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/scone-build/scone-build/pkg/link"
	"github.com/scone-build/scone-build/pkg/rewrite"
	"github.com/scone-build/scone-build/pkg/rootfs"
)

// RewriteReport lists the files whose system call sites were rewritten
// (docs/rewrite.md): executables, their interpreters and the shared
// libraries that contain system call instructions.
type RewriteReport struct {
	Files     []RewriteFile `json:"files"`
	Rewritten int           `json:"rewritten"`
	Left      int           `json:"left"`
}

// RewriteFile is one rewritten (or examined) program.
type RewriteFile struct {
	Path string `json:"path"`
	link.SyscallRewrite
	// Error: the file could not be rewritten (it is kept as it was).
	Error string `json:"error,omitempty"`
}

// rewriteTree rewrites, in place, the programs of the tree and their
// interpreters. A file that cannot be rewritten stays as it is (its calls
// trap); that is reported, not an error.
func rewriteTree(ctx context.Context, tree *rootfs.Tree, rep *Report) error {
	t0 := time.Now()
	defer func() { rep.Timings["rewrite"] = time.Since(t0).Seconds() }()
	targets := map[string]*rootfs.Entry{}
	interps := map[string]bool{}
	err := tree.Walk(func(name string, e *rootfs.Entry, linkTo string) error {
		if e.Type != tar.TypeReg || linkTo != "" || e.Size() < 64 {
			return nil
		}
		role, interp := rewrite.Classify(e.Data())
		if role == rewrite.RoleProgram || role == rewrite.RoleLibrary && rewrite.HasSyscallBytes(e.Data()) {
			targets[name] = e
		}
		if interp != "" {
			interps[interp] = true
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	for p := range interps {
		name, e := resolve(tree, p)
		if e != nil {
			targets[name] = e
		}
	}
	names := make([]string, 0, len(targets))
	for n := range targets {
		names = append(names, n)
	}
	sort.Strings(names)
	rr := &RewriteReport{Files: []RewriteFile{}}
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := targets[n]
		f := RewriteFile{Path: "/" + n}
		r, err := rewrite.Rewrite(e.Data(), rewrite.Options{})
		switch {
		case err != nil:
			f.Error = err.Error()
		case r.Already:
			f.Error = "already rewritten: kept as it is"
		default:
			f.Rewritten, f.Left = r.Rewritten, r.Left
			for _, s := range r.Sites {
				if !s.Rewritten {
					if f.LeftBecause == nil {
						f.LeftBecause = map[string]int{}
					}
					f.LeftBecause[s.Reason]++
				}
			}
			if r.Data != nil {
				if err := e.SetData(r.Data); err != nil {
					return fmt.Errorf("rewriting %s: %w", n, err)
				}
			}
		}
		rr.Rewritten += f.Rewritten
		rr.Left += f.Left
		rr.Files = append(rr.Files, f)
	}
	rep.Rewrite = rr
	return nil
}

// resolve follows symbolic links in every component of an absolute path
// inside the tree (at most 40, the image root as "/", ".." stops there) to
// a regular file.
func resolve(tree *rootfs.Tree, p string) (string, *rootfs.Entry) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	var cur []string
	for hops := 0; len(parts) > 0; {
		c := parts[0]
		parts = parts[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(cur) > 0 {
				cur = cur[:len(cur)-1]
			}
			continue
		}
		fi, err := tree.Lstat(path.Join(append(cur, c)...))
		if err != nil {
			return "", nil
		}
		e, ok := fi.Sys().(*rootfs.Entry)
		if !ok {
			return "", nil
		}
		if e.Type == tar.TypeSymlink {
			if hops++; hops > 40 {
				return "", nil
			}
			if path.IsAbs(e.Linkname) {
				cur = nil
			}
			parts = append(strings.Split(strings.Trim(e.Linkname, "/"), "/"), parts...)
			continue
		}
		cur = append(cur, c)
	}
	name := path.Join(cur...)
	fi, err := tree.Lstat(name)
	if err != nil {
		return "", nil
	}
	if e, ok := fi.Sys().(*rootfs.Entry); ok && e.Type == tar.TypeReg {
		return name, e
	}
	return "", nil
}

// annotate copies the counts into the compatibility report's binaries.
func (r *RewriteReport) annotate(ar *link.Report) {
	if r == nil || ar == nil {
		return
	}
	by := map[string]*RewriteFile{}
	for i := range r.Files {
		by[r.Files[i].Path] = &r.Files[i]
	}
	for _, b := range ar.Binaries {
		if f := by[b.Path]; f != nil && f.Error == "" {
			c := f.SyscallRewrite
			b.SyscallRewrite = &c
		}
	}
}
