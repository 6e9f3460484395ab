package inspect

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scone-build/scone-build/pkg/convert"
	"github.com/scone-build/scone-build/pkg/enclave"
)

// ErrNotConverted is returned for images that scone-build did not convert.
var ErrNotConverted = errors.New("not a scone-build image")

// Image is a converted image's enclave material.
type Image struct {
	Run, Host, FSImage, ConfigBin, SigStructBin []byte
	Config                                      *enclave.Config
	SigStruct                                   *enclave.SigStruct
	ImageConfig                                 *v1.ConfigFile
	Digest                                      v1.Hash
	// EnclaveLayer is the index of the layer holding /scone/enclave.
	EnclaveLayer int
}

// Load reads the runtime and enclave files of a converted image.
func Load(img v1.Image) (*Image, error) {
	d, err := img.Digest()
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
	out := &Image{ImageConfig: cf, Digest: d, EnclaveLayer: -1}
	want := map[string]*[]byte{
		convert.RunPath: &out.Run, convert.HostPath: &out.Host, convert.FSImagePath: &out.FSImage,
		convert.ConfigPath: &out.ConfigBin, convert.SigStructPath: &out.SigStructBin,
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
	for _, p := range []string{convert.RunPath, convert.HostPath, convert.ConfigPath, convert.SigStructPath, convert.FSImagePath} {
		if *want[p] == nil {
			return nil, fmt.Errorf("reading converted image: %w: %s is missing", ErrNotConverted, p)
		}
	}
	if out.Config, err = enclave.ParseConfig(out.ConfigBin); err != nil {
		return nil, fmt.Errorf("reading %s: %w", convert.ConfigPath, err)
	}
	if out.SigStruct, err = enclave.ParseSigStruct(out.SigStructBin); err != nil {
		return nil, fmt.Errorf("reading %s: %w", convert.SigStructPath, err)
	}
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
