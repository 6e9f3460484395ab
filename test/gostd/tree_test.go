package gostd

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/scone-build/scone-build/internal/testimages"
)

// extractImage writes the flattened file system of the image layout dir
// into root (as root: owners and modes kept, as a container engine would).
func extractImage(layoutDir, root string) error {
	img, err := testimages.Load(layoutDir)
	if err != nil {
		return err
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	cmd := exec.Command("tar", "-C", root, "--numeric-owner", "-xpf", "-")
	cmd.Stdin = rc
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("extracting %s: %v\n%s", layoutDir, err, out)
	}
	return nil
}

// copyTree copies the directory src to dst (files, directories, symlinks,
// modes).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(to, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.Type().IsRegular():
			return copyFile(p, to, info.Mode().Perm())
		}
		return nil // sockets, devices: not in GOROOT
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// linkTree makes dst a copy of src whose files are hard links (cheap: one
// package's tree costs directories and links, not 130 MB). Tests write
// new files (temporary directories), they do not rewrite the image's.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(to, info.Mode().Perm()); err != nil && !os.IsExist(err) {
				return err
			}
			// Mkdir applies the umask and drops the sticky bit (/tmp).
			if err := os.Chmod(to, info.Mode()&(fs.ModePerm|fs.ModeSticky|fs.ModeSetuid|fs.ModeSetgid)); err != nil {
				return err
			}
			return lchownLike(to, info)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, to); err != nil {
				return err
			}
			return lchownLike(to, info)
		default:
			return os.Link(p, to)
		}
	})
}

// pkgDir is where a package's sources live in the tree.
func pkgDir(pkg string) string { return "/usr/local/go/src/" + pkg }

// binName is the test binary's name for a package (net/http -> net_http.test).
func binName(pkg string) string { return strings.ReplaceAll(pkg, "/", "_") + ".test" }

// lchownLike gives p the owner of info (the suite runs as root).
func lchownLike(p string, info fs.FileInfo) error {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return os.Lchown(p, int(st.Uid), int(st.Gid))
}
