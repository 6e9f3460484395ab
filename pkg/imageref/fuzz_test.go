package imageref

import (
	"errors"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{"nginx:1.25", "localhost:5000/a/b:v1@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"oci:/x:y", "docker-archive:a.tar:b:c", "dir:/", "", ":", "oci:", "a//b"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, insecure bool) {
		r, err := Parse(s, insecure)
		if err != nil {
			if !errors.Is(err, ErrInvalidReference) {
				t.Fatalf("error %v does not wrap ErrInvalidReference", err)
			}
			return
		}
		if r.String() != s {
			t.Fatalf("String() = %q, want %q", r.String(), s)
		}
		if r.Transport != Registry && r.Path == "" {
			t.Fatalf("%q parsed with empty path", s)
		}
	})
}
