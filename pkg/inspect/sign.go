package inspect

import (
	"crypto/rsa"
	"encoding/hex"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/sconeimage"
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
	c := im.Contents()
	c.Config = im.ImageConfig.DeepCopy()
	if c.Config.Config.Labels == nil {
		c.Config.Config.Labels = map[string]string{}
	}
	c.Config.Config.Labels[sconeimage.LabelMRSIGNER] = hex.EncodeToString(mrsigner[:])
	c.SigStruct = signed
	return c.Image()
}
