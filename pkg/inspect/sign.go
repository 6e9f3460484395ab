package inspect

import (
	"crypto/rsa"
	"encoding/hex"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scone-build/scone-build/pkg/convert"
	"github.com/scone-build/scone-build/pkg/enclave"
)

// SigningData returns the 256 bytes an external signer must sign
// (RSASSA-PKCS1-v1_5 with SHA-256) for this image's SIGSTRUCT.
func (im *Image) SigningData() ([]byte, error) {
	return enclave.SigningData(im.SigStructBin)
}

// AttachSignature verifies sig (raw, big-endian, 384 bytes) over the image's
// signing data with pub, and returns the image with the signed SIGSTRUCT and
// its MRSIGNER label. Nothing else changes: MRENCLAVE stays the same.
func (im *Image) AttachSignature(sig []byte, pub *rsa.PublicKey) (v1.Image, error) {
	signed, err := enclave.Attach(im.SigStructBin, sig, pub)
	if err != nil {
		return nil, fmt.Errorf("attaching signature: %w", err)
	}
	ss, err := enclave.ParseSigStruct(signed)
	if err != nil {
		return nil, fmt.Errorf("attaching signature: %w", err)
	}
	mrsigner := ss.MRSIGNER()
	cfg := im.ImageConfig.DeepCopy()
	if cfg.Config.Labels == nil {
		cfg.Config.Labels = map[string]string{}
	}
	cfg.Config.Labels[convert.LabelMRSIGNER] = hex.EncodeToString(mrsigner[:])
	files := im.Files()
	files[convert.SigStructPath] = signed
	return Rebuild(files, cfg)
}

// Files returns the image's runtime and enclave files by absolute path.
func (im *Image) Files() map[string][]byte {
	return map[string][]byte{
		convert.RunPath: im.Run, convert.HostPath: im.Host, convert.FSImagePath: im.FSImage,
		convert.ConfigPath: im.ConfigBin, convert.SigStructPath: im.SigStructBin,
	}
}

// Rebuild assembles a converted image from its five files and image config,
// as convert.Assemble does (same layers, same annotations from the labels).
func Rebuild(files map[string][]byte, cfg *v1.ConfigFile) (v1.Image, error) {
	l := cfg.Config.Labels
	out := &convert.Output{
		RuntimeFiles: []convert.File{
			{Path: convert.RunPath, Mode: 0o755, Data: files[convert.RunPath]},
			{Path: convert.HostPath, Mode: 0o755, Data: files[convert.HostPath]},
		},
		EnclaveFiles: []convert.File{
			{Path: convert.FSImagePath, Mode: 0o444, Data: files[convert.FSImagePath]},
			{Path: convert.ConfigPath, Mode: 0o444, Data: files[convert.ConfigPath]},
			{Path: convert.SigStructPath, Mode: 0o444, Data: files[convert.SigStructPath]},
		},
		Config: cfg,
		Report: &convert.Report{Version: l[convert.LabelVersion], MRENCLAVE: l[convert.LabelMRENCLAVE],
			MRSIGNER: l[convert.LabelMRSIGNER], FSRoot: l[convert.LabelFSRoot]},
	}
	return convert.Assemble(out)
}
