package sconeimage

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Contents is a converted image: its five files and its image config. The
// config's labels carry the enclave's identity (LabelMRENCLAVE, ...); the
// manifest's annotations are derived from them.
type Contents struct {
	Run, Host []byte // the runtime base layer's files
	FSImage   Blob   // the protected FS image
	ConfigBin []byte // the measured enclave config
	SigStruct []byte // the SIGSTRUCT (signed, or not yet)
	Config    *v1.ConfigFile
	// SourceName is the source image's reference (annotation
	// org.opencontainers.image.base.name); empty when unknown.
	SourceName string
	// RuntimeLayer is the runtime base layer when already built (it
	// depends only on Run and Host); Image builds it when nil.
	RuntimeLayer v1.Layer
}

// Files returns the five files with their paths and modes (the FS image
// joined into one slice).
func (c *Contents) Files() []File {
	return []File{
		{Path: RunPath, Mode: RuntimeMode, Data: c.Run},
		{Path: HostPath, Mode: RuntimeMode, Data: c.Host},
		{Path: FSImagePath, Mode: EnclaveMode, Data: c.FSImage.Bytes()},
		{Path: ConfigPath, Mode: EnclaveMode, Data: c.ConfigBin},
		{Path: SigStructPath, Mode: EnclaveMode, Data: c.SigStruct},
	}
}

// Annotations are the manifest annotations: the identity labels and the
// source image.
func (c *Contents) Annotations() map[string]string {
	l := c.Config.Config.Labels
	anns := map[string]string{
		LabelMRENCLAVE: l[LabelMRENCLAVE],
		LabelFSRoot:    l[LabelFSRoot],
		LabelVersion:   l[LabelVersion],
	}
	if v := l[LabelMRSIGNER]; v != "" {
		anns[LabelMRSIGNER] = v
	}
	if d := l[LabelSourceDigest]; d != "" {
		anns[LabelSourceDigest] = d
		anns[AnnotationBaseDigest] = d
	}
	if c.SourceName != "" {
		anns[AnnotationBaseName] = c.SourceName
	}
	return anns
}

// Image returns the converted image as an OCI image (in memory: the layers
// are built once, the FS image is referenced). The same Contents always
// give the same digest.
func (c *Contents) Image() (v1.Image, error) {
	if c.Config == nil {
		return nil, fmt.Errorf("assembling image: no image config")
	}
	base := c.RuntimeLayer
	if base == nil {
		var err error
		if base, err = RuntimeLayer(c.Run, c.Host); err != nil {
			return nil, err
		}
	}
	created := c.Config.Created
	encl, err := enclaveLayer(c.FSImage, c.ConfigBin, c.SigStruct, created.Time)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "scone-build: runtime base layer (scone-run, scone-host)", Comment: "identical for every conversion by this scone-build version"}},
		mutate.Addendum{Layer: encl, History: v1.History{Created: created, CreatedBy: "scone-build: enclave layer (protected FS image, measured config, SIGSTRUCT)"}},
	)
	if err != nil {
		return nil, fmt.Errorf("assembling image: %w", err)
	}
	// mutate.ConfigFile keeps RootFS and History from img.
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := c.Config.DeepCopy()
	cfg.RootFS = cf.RootFS
	cfg.History = cf.History
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("assembling image config: %w", err)
	}
	return mutate.Annotations(img, c.Annotations()).(v1.Image), nil
}

// SetFile replaces the content of one of the five files (by path).
func (c *Contents) SetFile(path string, data []byte) error {
	switch path {
	case RunPath:
		c.Run = data
	case HostPath:
		c.Host = data
	case FSImagePath:
		c.FSImage = NewBlob(data)
	case ConfigPath:
		c.ConfigBin = data
	case SigStructPath:
		c.SigStruct = data
	default:
		return fmt.Errorf("replacing %q: not a file of a converted image", path)
	}
	c.RuntimeLayer = nil
	return nil
}
