package main

import (
	"bytes"
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/cas"
)

func casRecoverCommand(a *app) *cobra.Command {
	var o casFlags
	var v casAttestFlags
	var keyFile string
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Hand your recovery share to a CAS that recovers its sealed state",
		Long: `A CAS whose sealed state does not open in its enclave (a new CAS
version, another platform) starts in recovery mode (docs/cas.md,
"Recovery"). This command attests it (--simulation-key or --collateral,
and --mrenclave: the CAS version you agree to hand the state to), finds
your share in its recovery data, decrypts it with your recovery key
(--recovery-key, never sent) and hands it over a TLS connection bound to
the verified quote. The CAS recovers once --recovery-threshold owners did
so; it then serves the state with its former CAS ID.

--cas-id names the CAS ID being recovered (the one clients pin); the CAS
must say it recovers that one.`,
		Example: `  scone-build cas recover --cas cas.example:8443 --cas-id 4a0ae452... \
      --recovery-key owner.pem --collateral collateral.json --mrenclave 5c5c...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			verify, err := v.verifier()
			if err != nil {
				return err
			}
			if verify == nil || v.mrenclave == "" {
				return usagef("a share goes only to a CAS enclave you verified: pass --simulation-key PUB or --collateral FILE, and --mrenclave of the CAS version you trust")
			}
			if o.casID != "" {
				if _, err := cas.ParseID(o.casID); err != nil {
					return usagef("--cas-id: %v", err)
				}
			}
			b, err := readLimited(keyFile, 64<<10)
			if err != nil {
				return fmt.Errorf("reading recovery key %q: %w", keyFile, err)
			}
			priv, err := cas.ParseRecoveryPrivateKey(b)
			clear(b)
			if err != nil {
				return err
			}
			want, _ := hex.DecodeString(v.mrenclave)
			// the MRENCLAVE is checked with the quote, before the share is sent
			pinned := func(q *attest.Quote) (*attest.Result, error) {
				res, err := verify(q)
				if err == nil && !bytes.Equal(res.Enclave.MRENCLAVE[:], want) {
					err = fmt.Errorf("its MRENCLAVE is %x, not --mrenclave %s", res.Enclave.MRENCLAVE[:], v.mrenclave)
				}
				return res, err
			}
			c, err := cas.NewClient(o.addr, cas.WithTimeout(o.timeout))
			if err != nil {
				return usagef("--cas: %v", err)
			}
			st, res, err := c.Recover(cmd.Context(), priv, o.casID, pinned)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(a, st)
			}
			mode := "hardware quote, TCB " + string(res.TCBStatus)
			if res.Simulation {
				mode = "SIMULATION quote: no hardware protection"
			}
			fmt.Fprintf(a.stderr, "handed the share to the CAS enclave MRENCLAVE %x (%s)\n", res.Enclave.MRENCLAVE[:], mode)
			if st.Recovered {
				fmt.Fprintf(a.stdout, "recovered: CAS %s serves its state again (%d of %d shares)\n", st.CASID, st.Shares, st.Threshold)
			} else {
				fmt.Fprintf(a.stdout, "share accepted: %d of %d; CAS %s waits for %d more owner(s)\n", st.Shares, st.Threshold, st.CASID, st.Threshold-st.Shares)
			}
			return nil
		},
	}
	o.add(cmd, false)
	f := cmd.Flags()
	f.StringVar(&keyFile, "recovery-key", "", "your recovery private key (PEM, P-256 or X25519)")
	f.BoolVar(&o.json, "json", false, "print the CAS's answer as JSON")
	cmd.MarkFlagRequired("recovery-key")
	v.addTo(cmd)
	return cmd
}
