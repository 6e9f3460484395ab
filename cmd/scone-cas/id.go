package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/cas"
)

func idCommand(a *app) *cobra.Command {
	var state string
	cmd := &cobra.Command{
		Use:   "id",
		Short: "Print the CAS ID (SHA-256 of the identity key's SubjectPublicKeyInfo) that clients pin",
		Long: `Print the CAS ID of the state directory's identity key: the value that
'scone-build cas ... --cas-id' and converted images pin. It reads the key
only; it does not start the CAS.`,
		Example: `  scone-cas id --state /var/lib/scone-cas`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := filepath.Join(state, identityFile)
			b, err := os.ReadFile(path)
			if _, serr := os.Stat(filepath.Join(state, sealedIdentityFile)); errors.Is(err, os.ErrNotExist) && serr == nil {
				return withFix(exitKey, "ask the running CAS instead: 'scone-build cas id --cas ADDR --simulation-key PUB' (or --collateral FILE) verifies its quote and prints the ID",
					fmt.Errorf("reading identity key in %q: it is sealed to the CAS's enclave (--store-key sealed): only that enclave opens it", state))
			}
			if errors.Is(err, os.ErrNotExist) {
				return withFix(exitKey, "start 'scone-cas serve --state "+state+"' once: it creates the identity key", fmt.Errorf("no identity key in %q", state))
			}
			if err != nil {
				return withFix(exitIO, "", fmt.Errorf("reading identity key: %w", err))
			}
			k, err := cas.ParseIdentityKey(b)
			if err != nil {
				return withFix(exitKey, "the state's identity.pem is damaged: restore it from a backup", fmt.Errorf("reading identity key %q: %w", path, err))
			}
			id, err := cas.KeyID(&k.PublicKey)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "the state directory of scone-cas serve")
	cmd.MarkFlagRequired("state")
	return cmd
}
