package fsprotect

import (
	"errors"
	"fmt"
)

var (
	// ErrWrongKey means the image was made with another FS key: the key-check
	// value in the header does not match the key.
	ErrWrongKey = errors.New("wrong FS key: the image was made with another key")
	// ErrTruncated means the image is shorter than its header says, or its
	// header is missing from the end of the file (the image was truncated, or
	// bytes were appended after it).
	ErrTruncated = errors.New("image truncated (or bytes appended after it)")
	// ErrInvalidInput means the tar stream given to Pack cannot be packed
	// (unsafe path, dangling hard link, limits exceeded, malformed tar).
	ErrInvalidInput = errors.New("invalid input")
	// ErrNoSaltSource means Pack or NewContentCache was not given the salt
	// source (WithSaltSource) they need before encrypting anything.
	ErrNoSaltSource = errors.New("no salt source: the image salt must be known before contents are encrypted; " +
		"pass WithSaltSource (bytes that identify the tree, such as its layer digests), or let PackTarFile or PackTree derive it from the tree")
)

// Parts of an image named by AuthError.Part.
const (
	PartHeader = "header" // the header MAC
	PartIndex  = "index"  // the encrypted index (hash or GCM tag)
	PartData   = "data"   // the data region hash (keyless check)
	PartRoot   = "root"   // the root hash differs from the expected root
	PartChunk  = "chunk"  // one content chunk of one file
)

// AuthError reports that part of an image failed authentication: the image
// was modified (or, for PartRoot, is not the expected image).
type AuthError struct {
	Part  string // PartHeader, PartIndex, PartData, PartRoot or PartChunk
	Path  string // for PartChunk: the file's path in the image
	Chunk uint64 // for PartChunk: the chunk number within the file
	Msg   string // optional detail
}

func (e *AuthError) Error() string {
	var s string
	switch e.Part {
	case PartChunk:
		s = fmt.Sprintf("authenticate chunk %d of file %q: image modified", e.Chunk, e.Path)
	case PartRoot:
		s = "authenticate image root: root hash differs from the expected root"
	default:
		s = fmt.Sprintf("authenticate image %s: image modified", e.Part)
	}
	if e.Msg != "" {
		s += " (" + e.Msg + ")"
	}
	return s
}

// UnknownVersionError reports an image of a format version this package
// does not read.
type UnknownVersionError struct {
	Version uint32
}

func (e *UnknownVersionError) Error() string {
	return fmt.Sprintf("read image: unknown format version %d (this build reads versions %d to %d)", e.Version, MinVersion, Version)
}

// FormatError reports a structural problem: not an image, or a malformed
// field. Offset is the byte offset in the image, or, when Msg starts with
// "index:", the offset in the decrypted index.
type FormatError struct {
	Offset int64
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("parse image at offset %d: %s", e.Offset, e.Msg)
}
