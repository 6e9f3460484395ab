package sconeimage

import (
	"errors"
	"io"
)

// Blob is file content as a sequence of byte slices, read and never
// modified: the FS image (hundreds of MB) is referenced where it was
// produced, not copied into one buffer.
type Blob struct {
	parts [][]byte
	size  int64
}

// NewBlob returns the concatenation of parts (which the caller must not
// modify afterwards).
func NewBlob(parts ...[]byte) Blob {
	b := Blob{parts: parts}
	for _, p := range parts {
		b.size += int64(len(p))
	}
	return b
}

// Size is the blob's length in bytes.
func (b Blob) Size() int64 { return b.size }

// Parts returns the slices (not to be modified).
func (b Blob) Parts() [][]byte { return b.parts }

// Bytes returns the content as one slice: the part itself when there is
// one, else a copy.
func (b Blob) Bytes() []byte {
	if len(b.parts) == 1 {
		return b.parts[0]
	}
	out := make([]byte, 0, b.size)
	for _, p := range b.parts {
		out = append(out, p...)
	}
	return out
}

// ReadAt implements io.ReaderAt.
func (b Blob) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("reading blob: negative offset")
	}
	if off >= b.size {
		return 0, io.EOF
	}
	n := 0
	for _, part := range b.parts {
		if off >= int64(len(part)) {
			off -= int64(len(part))
			continue
		}
		c := copy(p[n:], part[off:])
		n += c
		off = 0
		if n == len(p) {
			return n, nil
		}
	}
	return n, io.EOF
}

// Reader returns a reader of the content.
func (b Blob) Reader() io.Reader { return &slicesReader{parts: b.parts} }

// slicesReader reads the concatenation of parts (which it does not modify).
type slicesReader struct {
	parts [][]byte
	off   int // in parts[0]
}

func (r *slicesReader) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) && len(r.parts) > 0 {
		c := copy(b[n:], r.parts[0][r.off:])
		n += c
		r.advance(c)
	}
	if n == 0 && len(r.parts) == 0 && len(b) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (r *slicesReader) advance(c int) {
	if r.off += c; r.off == len(r.parts[0]) {
		r.parts, r.off = r.parts[1:], 0
	}
}

// WriteTo writes the rest without an intermediate buffer (io.Copy).
func (r *slicesReader) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for len(r.parts) > 0 {
		m, err := w.Write(r.parts[0][r.off:])
		n += int64(m)
		r.advance(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
