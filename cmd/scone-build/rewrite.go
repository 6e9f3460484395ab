package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/rewrite"
)

// newRewriteCmd: 'scone-build rewrite IN OUT' rewrites the system call sites
// of one ELF file (what convert does to an image's programs; benchmarks and
// tests of the runtime's fast path use it on host programs).
func newRewriteCmd(a *app) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "rewrite IN OUT",
		Short: "Rewrite the system call sites of an x86-64 ELF program for the runtime's fast path",
		Args:  cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			r, err := rewrite.Rewrite(b, rewrite.Options{})
			if err != nil {
				return usageError{fmt.Errorf("%s: %w", args[0], err)}
			}
			out := r.Data
			if out == nil {
				out = b
			}
			st, err := os.Stat(args[0])
			if err != nil {
				return err
			}
			if err := os.WriteFile(args[1], out, st.Mode().Perm()); err != nil {
				return err
			}
			if asJSON {
				e := json.NewEncoder(a.stdout)
				e.SetIndent("", "  ")
				return e.Encode(r)
			}
			fmt.Fprintf(a.stdout, "%s: %d system call sites rewritten, %d left to the trap\n", args[1], r.Rewritten, r.Left)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print every site as JSON")
	return c
}
