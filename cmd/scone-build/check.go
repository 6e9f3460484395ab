package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/link"
	"github.com/scone-build/scone-build/pkg/rootfs"
)

type checkOptions struct {
	imageFlags
	json bool
	all  bool
}

func newCheckCmd(a *app) *cobra.Command {
	var o checkOptions
	cmd := &cobra.Command{
		Use:   "check IMAGE",
		Short: "Report whether an image's programs can run in an enclave, before converting",
		Long: `Analyse every ELF file of IMAGE (the entrypoint above all): architecture,
static/dynamic/PIE, interpreter and libc, Go binaries, the dependency closure
resolved inside the image, and risky features (fork, exec, dlopen, raw
syscalls, executable stack, text relocations). Exits 6 when the entrypoint is
unsupported, so CI can gate on it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runCheck(cmd.Context(), a, args[0], &o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print the full report as JSON")
	f.BoolVar(&o.all, "all", false, "list every binary, not only the entrypoint")
	o.imageFlags.addTo(f)
	return cmd
}

func runCheck(ctx context.Context, a *app, ref string, o *checkOptions) error {
	img, _, _, err := o.open(ctx, ref)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading image config: %w", err)
	}
	tree, err := rootfs.Flatten(ctx, img)
	if err != nil {
		return fmt.Errorf("flattening image: %w", err)
	}
	c := cf.Config
	rep, err := link.Analyze(ctx, tree, link.Entry{Argv: append(append([]string{}, c.Entrypoint...), c.Cmd...), Env: c.Env, WorkingDir: c.WorkingDir})
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printCompat(a.stdout, rep, o.all)
	}
	return rep.Err()
}

// printCompat prints a compatibility report for people.
func printCompat(w io.Writer, r *link.Report, all bool) {
	fmt.Fprintf(w, "Entrypoint %q -> %s: %s\n", r.Entry.Argv, r.Entry.Program, r.Verdict)
	for _, s := range r.Entry.Scripts {
		fmt.Fprintf(w, "  script %s runs %s\n", s.Path, s.Interpreter)
	}
	if b := r.Entrypoint; b != nil {
		fmt.Fprintf(w, "  %s %s", b.Machine, b.Linking)
		if b.PIE {
			fmt.Fprint(w, ", PIE")
		}
		if b.Libc.Flavour != "" {
			fmt.Fprintf(w, ", %s", b.Libc.Flavour)
			if b.Libc.MinVersion != "" {
				fmt.Fprintf(w, " >= %s", b.Libc.MinVersion)
			}
		}
		if b.Go != nil {
			fmt.Fprintf(w, ", Go %s (cgo %v)", b.Go.Version, b.Go.CGO)
		}
		if b.LoadPlan != nil && b.LoadPlan.Interpreter != "" {
			fmt.Fprintf(w, ", interpreter %s, %d libraries", b.LoadPlan.Interpreter, len(b.LoadPlan.Libraries))
		}
		fmt.Fprintln(w)
	}
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  [%s] %s\n", f.Severity, f.Message)
		if f.Fix != "" {
			fmt.Fprintf(w, "      fix: %s\n", f.Fix)
		}
	}
	counts := map[link.Verdict]int{}
	for _, b := range r.Binaries {
		counts[b.Verdict]++
	}
	fmt.Fprintf(w, "%d ELF files: %d supported, %d with caveats, %d unsupported\n", len(r.Binaries),
		counts[link.Supported], counts[link.SupportedWithCaveats], counts[link.Unsupported])
	if all {
		for _, b := range r.Binaries {
			fmt.Fprintf(w, "  %-12s %s\n", b.Verdict, b.Path)
		}
	}
}
