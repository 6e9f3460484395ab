package testimages

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestPath(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("SCONE_IMAGE_CACHE", cache)
	complete := []string{"index.json", "oci-layout", HashFile}
	tests := []struct {
		name    string
		files   []string
		wantErr error
	}{
		{"absent", nil, ErrAbsent},
		{"unfinished build", []string{"index.json", "oci-layout"}, ErrAbsent},
		{"complete", complete, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(cache, tc.name)
			for _, f := range tc.files {
				os.MkdirAll(dir, 0o755)
				if err := os.WriteFile(filepath.Join(dir, f), []byte("{}"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Path(tc.name)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Path(%q) error = %v, want %v", tc.name, err, tc.wantErr)
			}
			if err == nil && got != dir {
				t.Fatalf("Path(%q) = %q, want %q", tc.name, got, dir)
			}
		})
	}
}

func TestCacheDirDefault(t *testing.T) {
	t.Setenv("SCONE_IMAGE_CACHE", "")
	t.Setenv("HOME", "/home/x")
	got, err := CacheDir()
	if err != nil || got != "/home/x/.cache/scone-build/images" {
		t.Fatalf("CacheDir() = %q, %v", got, err)
	}
}
