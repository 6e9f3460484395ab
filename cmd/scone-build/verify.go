package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/fsprotect"
	"github.com/scone-build/scone-build/pkg/inspect"
)

type verifyOptions struct {
	imageFlags
	fsKey    string
	mrsigner string
	json     bool
}

func init() {
	register(func(a *app) *cobra.Command {
		var o verifyOptions
		cmd := &cobra.Command{
			Use:   "verify IMAGE",
			Short: "Check a converted image offline: signature, measurement, FS binding, files",
			Long: `Verify IMAGE without running it: the SIGSTRUCT signature (RSA-3072, e=3,
Q1/Q2) is valid; MRENCLAVE recomputed from the image's own runtime and
measured config equals the SIGSTRUCT's ENCLAVEHASH; the FS root hash in the
config matches the protected FS image; the labels agree; with --fs-key, every
file of the protected FS authenticates; with --mrsigner, the signer is the
expected one. Exits 4 when a check fails.`,
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error { return runVerify(cmd.Context(), a, args[0], &o) },
		}
		f := cmd.Flags()
		f.StringVar(&o.fsKey, "fs-key", "", "FS key file: also authenticate every file")
		f.StringVar(&o.mrsigner, "mrsigner", "", "expected MRSIGNER (64 hex digits)")
		f.BoolVar(&o.json, "json", false, "print the checks as JSON")
		f.StringVar(&o.platform, "platform", "linux/amd64", "platform to pick from a multi-platform image")
		f.BoolVar(&o.insecure, "insecure", false, "allow plain http to registries other than localhost")
		return cmd
	})
}

func runVerify(ctx context.Context, a *app, ref string, o *verifyOptions) error {
	var vopts []inspect.VerifyOption
	if o.mrsigner != "" {
		b, err := hex.DecodeString(o.mrsigner)
		if err != nil || len(b) != 32 {
			return usagef("--mrsigner %q: want 64 hex digits", o.mrsigner)
		}
		vopts = append(vopts, inspect.WithExpectedMRSIGNER([32]byte(b)))
	}
	if o.fsKey != "" {
		k, err := fsprotect.LoadKeyFile(o.fsKey)
		if err != nil {
			return keyFileError{"--fs-key", err}
		}
		vopts = append(vopts, inspect.WithFSKey(k))
	}
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
