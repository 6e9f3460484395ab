package volume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// errCrash is what the host returns once a test's crash point is reached:
// every change made before it stays, as after a kill -9.
var errCrash = errors.New("simulated crash")

// host is the volume directory. Every change goes through it, so tests can
// stop a writer after any number of changes (crashAfter).
type host struct {
	dir        string
	changes    int
	crashAfter int // > 0: the crashAfter-th change fails with errCrash (and every later one)
}

func (h *host) path(name string) string { return filepath.Join(h.dir, name) }

func (h *host) change() error {
	h.changes++
	if h.crashAfter > 0 && h.changes >= h.crashAfter {
		return errCrash
	}
	return nil
}

func (h *host) readFile(name string) ([]byte, error) { return os.ReadFile(h.path(name)) }

// readAt reads exactly len(b) bytes at off; a short file is io.ErrUnexpectedEOF.
func (h *host) readAt(name string, b []byte, off int64) error {
	f, err := os.Open(h.path(name))
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := f.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (h *host) writeAt(name string, b []byte, off int64) error {
	if err := h.change(); err != nil {
		return err
	}
	f, err := os.OpenFile(h.path(name), os.O_WRONLY|os.O_CREATE, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(h.path(name)), 0o700); err == nil {
			f, err = os.OpenFile(h.path(name), os.O_WRONLY|os.O_CREATE, 0o600)
		}
	}
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(b, off); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (h *host) sync(name string) error {
	if err := h.change(); err != nil {
		return err
	}
	f, err := os.Open(h.path(name))
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func (h *host) truncate(name string, size int64) error {
	if err := h.change(); err != nil {
		return err
	}
	return os.Truncate(h.path(name), size)
}

func (h *host) remove(name string) error {
	if err := h.change(); err != nil {
		return err
	}
	err := os.Remove(h.path(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// writeFileAtomic writes name through a temporary file, fsync and rename,
// then fsyncs the directory.
func (h *host) writeFileAtomic(name string, b []byte) error {
	tmp := tmpPrefix + name
	if err := h.change(); err != nil {
		return err
	}
	if err := os.WriteFile(h.path(tmp), b, 0o600); err != nil {
		return fmt.Errorf("write %q: %w", tmp, err)
	}
	if err := h.sync(tmp); err != nil {
		return err
	}
	if err := h.change(); err != nil {
		return err
	}
	if err := os.Rename(h.path(tmp), h.path(name)); err != nil {
		return err
	}
	return h.sync(".")
}
