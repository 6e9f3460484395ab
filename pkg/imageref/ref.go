package imageref

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Transport says where an image lives.
type Transport int

// Transports.
const (
	Registry Transport = iota
	OCILayout
	DockerArchive
	Dir
)

func (t Transport) String() string {
	switch t {
	case Registry:
		return "registry"
	case OCILayout:
		return "oci"
	case DockerArchive:
		return "docker-archive"
	case Dir:
		return "dir"
	}
	return "unknown"
}

// Ref is a parsed image reference.
type Ref struct {
	Transport Transport
	// Path is the layout directory, archive file or root directory.
	Path string
	// Tag is the tag inside an OCI layout, or the image reference stored in a
	// docker archive. Empty when not given.
	Tag string
	// Name is the registry reference (Transport == Registry).
	Name name.Reference

	raw string
}

func (r Ref) String() string { return r.raw }

// ErrInvalidReference is wrapped by every parse error.
var ErrInvalidReference = errors.New("invalid image reference")

// Parse parses an image reference. Insecure marks registry references as
// reachable over plain http.
func Parse(s string, insecure bool) (Ref, error) {
	if s == "" {
		return Ref{}, fmt.Errorf("parsing image reference %q: %w: empty", s, ErrInvalidReference)
	}
	for _, p := range []struct {
		prefix string
		t      Transport
	}{{"oci:", OCILayout}, {"docker-archive:", DockerArchive}, {"dir:", Dir}} {
		if !strings.HasPrefix(s, p.prefix) {
			continue
		}
		rest := strings.TrimPrefix(s, p.prefix)
		path, tag, _ := strings.Cut(rest, ":")
		if p.t == Dir {
			path, tag = rest, ""
		}
		if path == "" {
			return Ref{}, fmt.Errorf("parsing image reference %q: %w: %s needs a path, as in %sPATH", s, ErrInvalidReference, strings.TrimSuffix(p.prefix, ":"), p.prefix)
		}
		if p.t == DockerArchive && tag != "" {
			if _, err := name.NewTag(tag); err != nil {
				return Ref{}, fmt.Errorf("parsing image reference %q: %w: %q is not an image reference (docker-archive:FILE[:NAME:TAG])", s, ErrInvalidReference, tag)
			}
		}
		if p.t == OCILayout && strings.ContainsAny(tag, "/ ") {
			return Ref{}, fmt.Errorf("parsing image reference %q: %w: %q is not a tag (oci:DIR[:TAG])", s, ErrInvalidReference, tag)
		}
		return Ref{Transport: p.t, Path: path, Tag: tag, raw: s}, nil
	}
	if i := strings.Index(s, ":"); i > 0 && !strings.ContainsAny(s[:i], "./") && strings.HasPrefix(s[i:], "://") {
		return Ref{}, fmt.Errorf("parsing image reference %q: %w: URLs are not image references; write HOST/REPO:TAG", s, ErrInvalidReference)
	}
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	n, err := name.ParseReference(s, opts...)
	if err != nil {
		return Ref{}, fmt.Errorf("parsing image reference %q: %w: %v", s, ErrInvalidReference, err)
	}
	return Ref{Transport: Registry, Name: n, raw: s}, nil
}
