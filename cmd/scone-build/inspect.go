package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
	"github.com/scone-build/scone-build/pkg/fsprotect"
	"github.com/scone-build/scone-build/pkg/inspect"
	"github.com/scone-build/scone-build/pkg/link"
)

type inspectOptions struct {
	imageFlags
	json      bool
	sgxs      string
	sigstruct string
	fsKey     string
}

func newInspectCmd(a *app) *cobra.Command {
	var o inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect IMAGE",
		Short: "Show a converted image's enclave identity, measured config and FS image",
		Long: `Show MRENCLAVE, MRSIGNER, the SIGSTRUCT attributes, the measured enclave
config and the protected FS image summary of a converted image. With --fs-key
it also decrypts the file system and shows the compatibility report (file
names are confidential, so the report needs the key).

--sgxs and --sigstruct write the SGXS measurement stream and the SIGSTRUCT, so
third-party SGX tools can check them independently.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runInspect(cmd.Context(), a, args[0], &o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print JSON")
	f.StringVar(&o.sgxs, "sgxs", "", "write the SGXS measurement stream to FILE")
	f.StringVar(&o.sigstruct, "sigstruct", "", "write the SIGSTRUCT (1808 bytes) to FILE")
	f.StringVar(&o.fsKey, "fs-key", "", "FS key file: also show the compatibility report")
	o.imageFlags.addTo(f)
	return cmd
}

type inspectOutput struct {
	*inspect.Summary
	Compatibility *link.Report `json:"compatibility,omitempty"`
}

func runInspect(ctx context.Context, a *app, ref string, o *inspectOptions) error {
	im, err := o.loadConverted(ctx, ref)
	if err != nil {
		return err
	}
	out := inspectOutput{Summary: im.Summarize()}
	if o.fsKey != "" {
		kf, err := fskey.Load(o.fsKey)
		if err != nil {
			return keyFileError{"--fs-key", err}
		}
		rd, err := fsprotect.Open(bytes.NewReader(im.FSImage), int64(len(im.FSImage)), kf.Key, fsprotect.WithExpectedRoot(im.Config.FSRoot))
		if err != nil {
			return fmt.Errorf("opening protected FS image: %w", err)
		}
		c := im.Config
		out.Compatibility, err = link.Analyze(ctx, rd, link.Entry{Argv: c.Argv, Env: c.Env, WorkingDir: c.Cwd})
		if err != nil {
			return fmt.Errorf("analysing entrypoint: %w", err)
		}
	}
	if o.sgxs != "" {
		m, err := enclave.Measure(bytes.NewReader(im.Run), im.ConfigBin)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := m.WriteSGXS(&buf); err != nil {
			return err
		}
		if err := writeFileAtomic(o.sgxs, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if o.sigstruct != "" {
		if err := writeFileAtomic(o.sigstruct, im.SigStructBin, 0o644); err != nil {
			return err
		}
	}
	if o.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	s := out.Summary
	w := a.stdout
	fmt.Fprintf(w, "Image      %s\n", s.Digest)
	fmt.Fprintf(w, "MRENCLAVE  %s\n", s.MRENCLAVE)
	if s.Signed {
		fmt.Fprintf(w, "MRSIGNER   %s\n", s.MRSIGNER)
	} else {
		fmt.Fprintf(w, "MRSIGNER   (unsigned: see 'scone-build sign-data')\n")
	}
	ss := s.SigStruct
	fmt.Fprintf(w, "SIGSTRUCT  date %s, debug %v, %s (mask %s), miscselect %#x, isvprodid %d, isvsvn %d\n",
		ss.Date, ss.Debug, ss.Attributes, ss.AttributeMask, ss.MiscSelect, ss.ISVProdID, ss.ISVSVN)
	c := s.Enclave
	fmt.Fprintf(w, "Enclave config (measured)\n")
	fmt.Fprintf(w, "  argv         %q\n  entrypoint   %s\n", c.Argv, c.Entrypoint)
	if c.Interpreter != "" {
		fmt.Fprintf(w, "  interpreter  %s (%d libraries)\n", c.Interpreter, len(c.Libraries))
	}
	fmt.Fprintf(w, "  env          %q\n", c.Env)
	hostEnv := "none"
	if len(c.HostEnv) > 0 {
		hostEnv = strings.Join(c.HostEnv, ", ")
	}
	fmt.Fprintf(w, "  host may set env: %s; args: %v\n", hostEnv, c.HostArgs)
	fmt.Fprintf(w, "  cwd %s, uid %d, gid %d\n", c.Cwd, c.UID, c.GID)
	fmt.Fprintf(w, "  heap %s, stack %s, threads %d\n", humanBytes(int64(c.HeapSize)), humanBytes(int64(c.StackSize)), c.MaxThreads)
	fmt.Fprintf(w, "  console shield %v, transport %s (exit cost %d cycles)\n", c.ConsoleShield, c.Transport, c.ExitCycles)
	if len(c.TLSPorts) > 0 {
		fmt.Fprintf(w, "  TLS ports    %v (certificate %s, key %s)\n", c.TLSPorts, c.TLSCert, c.TLSKey)
	}
	if c.TLSClientCA != "" {
		fmt.Fprintf(w, "  TLS clients  need a certificate from %s\n", c.TLSClientCA)
	}
	if len(c.TLSConnect) > 0 {
		fmt.Fprintf(w, "  TLS connect  %v (servers verified against %s)\n", c.TLSConnect, c.TLSCA)
	}
	if len(c.Volumes) > 0 {
		fmt.Fprintf(w, "  volumes (unprotected) %v\n", c.Volumes)
	}
	if len(c.ProtectedVolumes) > 0 {
		fmt.Fprintf(w, "  protected volumes %v\n", c.ProtectedVolumes)
	}
	if c.CASAddress != "" {
		fmt.Fprintf(w, "  CAS          %s, policy %s, CAS ID %s (secrets and FS key from the CAS)\n", c.CASAddress, c.CASPolicy, c.CASID)
	}
	fmt.Fprintf(w, "FS image   %s, root %s", humanBytes(s.FSImage.Size), s.FSImage.Root)
	switch {
	case s.FSImage.Error != "":
		fmt.Fprintf(w, " (damaged: %s)\n", s.FSImage.Error)
	case s.FSImage.RootMatchesConfig:
		fmt.Fprintf(w, " (bound by the config)\n")
	default:
		fmt.Fprintf(w, " (DOES NOT MATCH the measured config)\n")
	}
	if out.Compatibility != nil {
		printCompat(w, out.Compatibility, false)
	} else {
		fmt.Fprintf(w, "Compatibility: pass --fs-key to analyse the (encrypted) binaries\n")
	}
	return nil
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func inspectHints(err error) (int, string, bool) {
	var ae *fsprotect.AuthError
	switch {
	case errors.Is(err, inspect.ErrNotConverted):
		return exitBadInput, "this image was not made by 'scone-build convert'", true
	case errors.Is(err, inspect.ErrVerification) && errors.Is(err, fskey.ErrIdentity):
		return exitVerification, "the image is not the one you expect: signed by another key, or an older ISVSVN (a rollback); do not run it", true
	case errors.Is(err, inspect.ErrVerification):
		return exitVerification, "the image was modified after conversion or made with other keys: convert it again from its source", true
	case errors.Is(err, fsprotect.ErrWrongKey):
		return exitKey, "this FS key did not make this image: pass the --fs-key used for 'scone-build convert'", true
	case errors.As(err, &ae):
		return exitVerification, "the protected FS image was tampered with: convert the image again", true
	case errors.Is(err, enclave.ErrMalformedSigStruct), errors.Is(err, enclave.ErrConfigVersion):
		return exitVerification, "the enclave files were damaged or made by an incompatible scone-build version", true
	}
	return 0, "", false
}
