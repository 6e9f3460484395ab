package inspect

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/sconeimage"
)

// ErrNotConverted is returned for images that scone-build did not convert.
var ErrNotConverted = sconeimage.ErrNotConverted

// Image is a converted image's enclave material.
type Image struct {
	Run, Host, FSImage, ConfigBin, SigStructBin []byte
	Config                                      *enclave.Config
	SigStruct                                   *enclave.SigStruct
	ImageConfig                                 *v1.ConfigFile
	Digest                                      v1.Hash
	// EnclaveLayer is the index of the layer holding /scone/enclave.
	EnclaveLayer int
	// SourceName is the source reference the manifest names ("" if none).
	SourceName string
}

// Load reads the runtime and enclave files of a converted image
// (sconeimage.Load) and parses its config and SIGSTRUCT.
func Load(img v1.Image) (*Image, error) {
	l, err := sconeimage.Load(img)
	if err != nil {
		return nil, err
	}
	out := &Image{Run: l.Run, Host: l.Host, FSImage: l.FSImage.Bytes(), ConfigBin: l.ConfigBin, SigStructBin: l.SigStruct,
		ImageConfig: l.Config, Digest: l.Digest, EnclaveLayer: l.EnclaveLayer, SourceName: l.SourceName}
	if out.Config, err = enclave.ParseConfig(out.ConfigBin); err != nil {
		return nil, fmt.Errorf("reading %s: %w", sconeimage.ConfigPath, err)
	}
	if out.SigStruct, err = enclave.ParseSigStruct(out.SigStructBin); err != nil {
		return nil, fmt.Errorf("reading %s: %w", sconeimage.SigStructPath, err)
	}
	return out, nil
}

// Contents returns the image's files and config, to rebuild it
// (Contents().Image()) after a change.
func (im *Image) Contents() *sconeimage.Contents {
	return &sconeimage.Contents{Run: im.Run, Host: im.Host, FSImage: sconeimage.NewBlob(im.FSImage), ConfigBin: im.ConfigBin,
		SigStruct: im.SigStructBin, Config: im.ImageConfig, SourceName: im.SourceName}
}
