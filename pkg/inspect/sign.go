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
	out := &convert.Output{
		RuntimeFiles: []convert.File{
			{Path: convert.RunPath, Mode: 0o755, Data: im.Run},
			{Path: convert.HostPath, Mode: 0o755, Data: im.Host},
		},
		EnclaveFiles: []convert.File{
			{Path: convert.FSImagePath, Mode: 0o444, Data: im.FSImage},
			{Path: convert.ConfigPath, Mode: 0o444, Data: im.ConfigBin},
			{Path: convert.SigStructPath, Mode: 0o444, Data: signed},
		},
		Config:    cfg,
		Enclave:   im.Config,
		SigStruct: ss,
		Report: &convert.Report{
			Version:   cfg.Config.Labels[convert.LabelVersion],
			MRENCLAVE: hex.EncodeToString(ss.EnclaveHash[:]),
			MRSIGNER:  hex.EncodeToString(mrsigner[:]),
			FSRoot:    hex.EncodeToString(im.Config.FSRoot[:]),
		},
	}
	return convert.Assemble(out)
}
