package sconeimage

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ErrNotConverted is returned for images that scone-build did not convert.
var ErrNotConverted = errors.New("not a scone-build image")

// Loaded is a converted image read back from a v1.Image.
type Loaded struct {
	Contents
	Digest v1.Hash // of the manifest
	// EnclaveLayer is the index of the layer holding /scone/enclave.
	EnclaveLayer int
}

// Load reads the runtime and enclave files, the config and the source
// annotation of a converted image. It checks that the five files are there,
// not what they hold (pkg/inspect verifies).
func Load(img v1.Image) (*Loaded, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	out := &Loaded{Digest: d, EnclaveLayer: -1}
	out.Config = cf
	out.SourceName = m.Annotations[AnnotationBaseName]
	var fsImage []byte
	want := map[string]*[]byte{
		RunPath: &out.Run, HostPath: &out.Host, FSImagePath: &fsImage,
		ConfigPath: &out.ConfigBin, SigStructPath: &out.SigStruct,
	}
	for i, l := range layers {
		if err := readLayer(l, func(name string, r io.Reader) error {
			dst, ok := want["/"+strings.TrimPrefix(strings.TrimPrefix(name, "./"), "/")]
			if !ok {
				return nil
			}
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			*dst = b
			if strings.HasSuffix(name, "sigstruct.bin") {
				out.EnclaveLayer = i
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("reading layer %d: %w", i, err)
		}
	}
	for _, p := range []string{RunPath, HostPath, ConfigPath, SigStructPath, FSImagePath} {
		if *want[p] == nil {
			return nil, fmt.Errorf("reading converted image: %w: %s is missing", ErrNotConverted, p)
		}
	}
	out.FSImage = NewBlob(fsImage)
	return out, nil
}

func readLayer(l v1.Layer, f func(string, io.Reader) error) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if err := f(h.Name, tr); err != nil {
				return err
			}
		}
	}
}
