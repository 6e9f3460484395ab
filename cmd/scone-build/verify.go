package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/fskey"
	"github.com/scone-build/scone-build/pkg/inspect"
)

type verifyOptions struct {
	imageFlags
	identityFlags
	fsKey string
	json  bool
}

func newVerifyCmd(a *app) *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:   "verify IMAGE",
		Short: "Check a converted image offline: signature, measurement, FS binding, files",
		Long: `Verify IMAGE without running it: the SIGSTRUCT signature (RSA-3072, e=3,
Q1/Q2) is valid; MRENCLAVE recomputed from the image's own runtime and
measured config equals the SIGSTRUCT's ENCLAVEHASH; the FS root hash in the
config matches the protected FS image; the labels agree; the enclave's
identity is the expected one; with --fs-key, every file of the protected FS
authenticates.

The expected signer is required: anyone can sign an image with a key of
their own, so a valid signature means nothing until its signer is checked.
Name it with --mrsigner or --signer-pub, or pass an --fs-key file that records
it (what 'scone-build keygen' writes); --mrenclave, --isv-prodid and
--min-isvsvn add to it. Exits 4 when a check fails.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runVerify(cmd.Context(), a, args[0], &o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.fsKey, "fs-key", "", "FS key file: also authenticate every file")
	f.StringVar(&o.signerPub, "signer-pub", "", "expect the MRSIGNER of this signer public key (PEM)")
	o.identityFlags.register(f, true)
	f.BoolVar(&o.json, "json", false, "print the checks as JSON")
	o.imageFlags.addTo(f)
	return cmd
}

func runVerify(ctx context.Context, a *app, ref string, o *verifyOptions) error {
	var vopts []inspect.VerifyOption
	flagID, err := o.identityFlags.identity()
	if err != nil {
		return err
	}
	named := !flagID.IsZero()
	if o.fsKey != "" {
		kf, err := fskey.Load(o.fsKey)
		if err != nil {
			return keyFileError{"--fs-key", err}
		}
		vopts = append(vopts, inspect.WithFSKey(kf.Key))
		if !kf.Bare() {
			vopts = append(vopts, inspect.WithExpectedIdentity(kf.Identity))
			named = true
		}
	}
	if !named {
		return usagef("verify needs the signer you expect: --mrsigner HEX, --signer-pub PUB, or an --fs-key file that records it (anyone can sign an image with a key of their own)")
	}
	// The flags add to the key file's identity: the image must meet both.
	vopts = append(vopts, inspect.WithExpectedIdentity(flagID))
	im, err := o.loadConverted(ctx, ref)
	if err != nil {
		return err
	}
	checks, verr := im.Verify(ctx, vopts...)
	if o.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			OK     bool            `json:"ok"`
			Checks []inspect.Check `json:"checks"`
		}{verr == nil, checks}); err != nil {
			return err
		}
	} else {
		for _, c := range checks {
			mark := "ok  "
			if !c.OK {
				mark = "FAIL"
			}
			fmt.Fprintf(a.stdout, "%s %-20s %s\n", mark, c.Name, c.Detail)
		}
		if o.fsKey == "" {
			fmt.Fprintf(a.stdout, "note: file contents not checked (pass --fs-key to authenticate every file)\n")
		}
	}
	return verr
}
