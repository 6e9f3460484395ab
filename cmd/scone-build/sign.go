package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/imageref"
)

type signDataOptions struct {
	imageFlags
	out string
}

type attachOptions struct {
	imageFlags
	signature string
	pub       string
}

func newSignDataCmd(a *app) *cobra.Command {
	var o signDataOptions
	cmd := &cobra.Command{
		Use:   "sign-data IMAGE",
		Short: "Print the bytes an external signer (KMS, HSM) must sign for IMAGE's SIGSTRUCT",
		Long: `Print the 256 bytes of IMAGE's SIGSTRUCT that the enclave signature covers
(hex, with their SHA-256 for signers that take a digest). Sign them with
RSASSA-PKCS1-v1_5 and SHA-256 using an RSA-3072 key with exponent 3, then run
'scone-build attach-signature'. Make IMAGE with 'scone-build convert --unsigned'.`,
		Example: `  scone-build convert --unsigned --fs-key fs.key oci:in oci:unsigned
  scone-build sign-data oci:unsigned --out tbs.bin
  openssl dgst -sha256 -sign signer.pem -out sig.bin tbs.bin
  scone-build attach-signature oci:unsigned oci:signed --signature sig.bin --signer-pub signer.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runSignData(cmd.Context(), a, args[0], &o) },
	}
	cmd.Flags().StringVar(&o.out, "out", "", "write the raw bytes to FILE instead of hex to stdout")
	o.imageFlags.addTo(cmd.Flags())
	return cmd
}

func newAttachSignatureCmd(a *app) *cobra.Command {
	var o attachOptions
	cmd := &cobra.Command{
		Use:   "attach-signature SRC DST",
		Short: "Attach a signature made elsewhere to SRC's SIGSTRUCT and write DST",
		Long: `Verify SIGNATURE (raw 384 bytes, big-endian, or base64/hex of them, as made by
'openssl dgst -sha256 -sign' or a KMS) over SRC's signing data with the signer's
public key, and write DST with the signed SIGSTRUCT and its MRSIGNER label.
MRENCLAVE does not change.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAttach(cmd.Context(), a, args[0], args[1], &o)
		},
	}
	cmd.Flags().StringVar(&o.signature, "signature", "", "signature file (required)")
	cmd.Flags().StringVar(&o.pub, "signer-pub", "", "signer's public key, PEM (required)")
	o.imageFlags.addTo(cmd.Flags())
	return cmd
}

func runSignData(ctx context.Context, a *app, ref string, o *signDataOptions) error {
	im, err := o.loadConverted(ctx, ref)
	if err != nil {
		return err
	}
	data, err := im.SigningData()
	if err != nil {
		return err
	}
	if o.out != "" {
		return writeFileAtomic(o.out, data, 0o644)
	}
	sum := sha256.Sum256(data)
	_, err = fmt.Fprintf(a.stdout, "%s\nsha256 %s\n", hex.EncodeToString(data), hex.EncodeToString(sum[:]))
	return err
}

func runAttach(ctx context.Context, a *app, src, dst string, o *attachOptions) error {
	if o.signature == "" || o.pub == "" {
		return usagef("attach-signature needs --signature FILE and --signer-pub FILE")
	}
	dref, err := imageref.Parse(dst, o.insecure)
	if err != nil {
		return usageError{err}
	}
	raw, err := os.ReadFile(o.signature)
	if err != nil {
		return err
	}
	sig, err := enclave.DecodeSignature(raw)
	if err != nil {
		return err
	}
	pub, err := enclave.LoadPublicKey(o.pub)
	if err != nil {
		return keyFileError{"--signer-pub", err}
	}
	img, _, ropts, err := o.open(ctx, src)
	if err != nil {
		return err
	}
	im, err := inspectLoad(img)
	if err != nil {
		return err
	}
	out, err := im.AttachSignature(sig, pub)
	if err != nil {
		return err
	}
	if err := imageref.Write(ctx, dref, out, ropts...); err != nil {
		return err
	}
	d, _ := out.Digest()
	mrs, _ := enclave.MRSIGNER(pub)
	fmt.Fprintf(a.stdout, "signed %s -> %s\n  digest    %s\n  MRSIGNER  %s\n", src, dst, d, hex.EncodeToString(mrs[:]))
	return nil
}
