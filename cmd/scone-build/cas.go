package main

import (
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/cas"
	"github.com/scone-build/scone-build/pkg/policy"
)

// casFlags are the flags every `cas` command shares.
type casFlags struct {
	addr     string
	casID    string
	ownerKey string
	timeout  time.Duration
	json     bool
}

func (o *casFlags) add(cmd *cobra.Command, owner bool) {
	f := cmd.Flags()
	f.StringVar(&o.addr, "cas", "", "the CAS address, HOST:PORT")
	f.StringVar(&o.casID, "cas-id", "", "the pinned CAS ID (64 hex digits; 'scone-build cas id' shows it)")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "timeout of each request")
	cmd.MarkFlagRequired("cas")
	if owner {
		f.StringVar(&o.ownerKey, "owner-key", "", "the owner's private key (PEM PRIVATE KEY: Ed25519 or ECDSA P-256)")
		cmd.MarkFlagRequired("owner-key")
	}
}

// pinned returns a client pinned to --cas-id (required).
func (o *casFlags) pinned() (*cas.Client, error) {
	if o.casID == "" {
		return nil, usagef("--cas-id is required: it pins the CAS this command sends a signature to (or receives secrets from); 'scone-build cas id --cas %s' shows it, verify it out of band", o.addr)
	}
	id, err := cas.ParseID(o.casID)
	if err != nil {
		return nil, usagef("--cas-id: %v", err)
	}
	return cas.NewClient(o.addr, cas.WithPin(id), cas.WithTimeout(o.timeout))
}

// ownerKeyError marks an unusable --owner-key.
type ownerKeyError struct{ err error }

func (e ownerKeyError) Error() string { return e.err.Error() }
func (e ownerKeyError) Unwrap() error { return e.err }

func (o *casFlags) key() (crypto.Signer, error) {
	b, err := readLimited(o.ownerKey, 64<<10)
	if err != nil {
		return nil, ownerKeyError{fmt.Errorf("reading owner key %q: %w", o.ownerKey, err)}
	}
	k, err := cas.ParseOwnerKey(b)
	if err != nil {
		return nil, ownerKeyError{fmt.Errorf("reading owner key %q: %w", o.ownerKey, err)}
	}
	return k, nil
}

// client and key, for owner commands.
func (o *casFlags) owner() (*cas.Client, crypto.Signer, error) {
	c, err := o.pinned()
	if err != nil {
		return nil, nil, err
	}
	k, err := o.key()
	if err != nil {
		return nil, nil, err
	}
	return c, k, nil
}

func newCASCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cas",
		Short: "Talk to a CAS (scone-cas): its identity, and the policies you own",
		Long: `Talk to a configuration and attestation service (scone-cas, docs/cas.md).

'cas id' connects and prints the CAS ID, the SHA-256 of the CAS's TLS public
key, which every other command pins with --cas-id: nothing signed is sent
to, and no secret received from, a server with another key. Verify the ID
out of band (scone-cas id --state DIR on the CAS's host) before pinning it.

Policy commands sign with --owner-key (PEM PRIVATE KEY, Ed25519 or ECDSA
P-256), the key the policy names as its owner.`,
	}
	cmd.AddCommand(casIDCommand(a), casPolicyCommand(a), casRecoverCommand(a))
	return cmd
}

func casIDCommand(a *app) *cobra.Command {
	var o casFlags
	var v casAttestFlags
	cmd := &cobra.Command{
		Use:   "id",
		Short: "Connect to a CAS and print its CAS ID (what to pin)",
		Long: `Connect to the CAS at --cas and print its CAS ID: the SHA-256 of its TLS
certificate's SubjectPublicKeyInfo. With --cas-id, exit 4 unless the CAS
has that ID.

A CAS that runs in an enclave (the converted CAS image) serves a quote
whose REPORTDATA binds its CAS ID. With --simulation-key (a simulation
quote) or --collateral (a hardware quote) the quote is verified before
the ID is printed, and --mrenclave requires the CAS's enclave to be that
one: exit 4 otherwise.`,
		Example: `  scone-build cas id --cas cas.example:8443
  scone-build cas id --cas cas.example:8443 --cas-id 4a0ae452...
  scone-build cas id --cas cas.example:8443 --simulation-key sim.pub --mrenclave 5c5c...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			verify, err := v.verifier()
			if err != nil {
				return err
			}
			opts := []cas.ClientOption{cas.WithTimeout(o.timeout)}
			if o.casID != "" {
				id, err := cas.ParseID(o.casID)
				if err != nil {
					return usagef("--cas-id: %v", err)
				}
				opts = append(opts, cas.WithPin(id))
			}
			c, err := cas.NewClient(o.addr, opts...)
			if err != nil {
				return usagef("--cas: %v", err)
			}
			id, info, err := c.Identify(cmd.Context())
			if err != nil {
				return err
			}
			att, err := v.verify(verify, id, info)
			if err != nil {
				return err
			}
			if o.json {
				return printJSON(a, info)
			}
			fmt.Fprintf(a.stdout, "%s\n", id)
			fmt.Fprintf(a.stderr, "CAS %s, version %s, %d simulation key(s)", o.addr, info.Version, len(info.SimulationKeys))
			if info.MRENCLAVE != "" {
				fmt.Fprintf(a.stderr, ", MRENCLAVE %s", info.MRENCLAVE)
			}
			fmt.Fprintln(a.stderr)
			if att != "" {
				fmt.Fprintln(a.stderr, att)
			}
			if o.casID == "" {
				fmt.Fprintln(a.stderr, "verify this CAS ID out of band (scone-cas id on the CAS's host) before pinning it with --cas-id")
			}
			return nil
		},
	}
	o.add(cmd, false)
	cmd.Flags().BoolVar(&o.json, "json", false, "print what the CAS says about itself as JSON")
	v.addTo(cmd)
	return cmd
}

// casAttestFlags verify the quote of a CAS that runs in an enclave.
type casAttestFlags struct {
	simKey     string
	collateral string
	mrenclave  string
}

func (v *casAttestFlags) addTo(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&v.simKey, "simulation-key", "", "verify the CAS's simulation quote with this ECDSA P-256 public key (PEM)")
	f.StringVar(&v.collateral, "collateral", "", "verify the CAS's hardware quote with this collateral JSON")
	f.StringVar(&v.mrenclave, "mrenclave", "", "require the CAS's enclave to have this MRENCLAVE (64 hex digits; needs --simulation-key or --collateral)")
}

// verifier checks the flags (before anything is sent) and returns the
// quote verification they ask for (nil: none).
func (v *casAttestFlags) verifier() (func(*attest.Quote) (*attest.Result, error), error) {
	if v.mrenclave != "" {
		if b, err := hex.DecodeString(v.mrenclave); err != nil || len(b) != 32 {
			return nil, usagef("--mrenclave %q: want 64 hex digits", v.mrenclave)
		}
	}
	switch {
	case v.simKey != "" && v.collateral != "":
		return nil, usagef("--simulation-key and --collateral exclude each other: a quote is one or the other")
	case v.simKey != "":
		k, err := loadSimulationKey(v.simKey)
		if err != nil {
			return nil, err
		}
		return func(q *attest.Quote) (*attest.Result, error) { return attest.VerifySimulation(q, k) }, nil
	case v.collateral != "":
		b, err := readLimited(v.collateral, 4<<20)
		if err != nil {
			return nil, fmt.Errorf("reading collateral %q: %w", v.collateral, err)
		}
		col, err := attest.ParseCollateral(b)
		if err != nil {
			return nil, fmt.Errorf("reading collateral %q: %w", v.collateral, err)
		}
		ver, err := attest.NewVerifier()
		if err != nil {
			return nil, err
		}
		return func(q *attest.Quote) (*attest.Result, error) { return ver.Verify(q, col) }, nil
	case v.mrenclave != "":
		return nil, usagef("--mrenclave needs a verified quote: pass --simulation-key or --collateral")
	}
	return nil, nil
}

// verify checks the CAS's quote with verify (from verifier) and returns a
// line for the operator ("" when the CAS serves no quote and none was
// asked for).
func (v *casAttestFlags) verify(verify func(*attest.Quote) (*attest.Result, error), id cas.ID, info *cas.IDResponse) (string, error) {
	if verify == nil {
		if len(info.Quote) == 0 {
			return "", nil
		}
		return "the CAS serves a quote of its enclave, NOT verified: pass --simulation-key PUB or --collateral FILE to attest it", nil
	}
	res, err := cas.VerifySelfQuote(info.Quote, id, verify)
	if err != nil {
		return "", fmt.Errorf("verifying the quote of CAS %s: %w", id, err)
	}
	got := hex.EncodeToString(res.Enclave.MRENCLAVE[:])
	if info.MRENCLAVE != got {
		return "", fmt.Errorf("verifying the CAS: %w: it says MRENCLAVE %q, its quote %s", cas.ErrSelfAttestation, info.MRENCLAVE, got)
	}
	if v.mrenclave != "" && !strings.EqualFold(v.mrenclave, got) {
		return "", fmt.Errorf("verifying the CAS: %w: its MRENCLAVE is %s, not --mrenclave %s", cas.ErrSelfAttestation, got, v.mrenclave)
	}
	var notes []string
	if res.Simulation {
		notes = append(notes, "SIMULATION quote: no hardware protection")
	} else {
		notes = append(notes, "hardware quote, TCB "+string(res.TCBStatus))
	}
	if res.Enclave.Attributes.Debug() {
		notes = append(notes, "DEBUG enclave: a debugger reads its memory")
	}
	return fmt.Sprintf("attested: the CAS's TLS key is held by enclave MRENCLAVE %s MRSIGNER %x (%s)", got, res.Enclave.MRSIGNER[:], strings.Join(notes, "; ")), nil
}

func printJSON(a *app, v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func casPolicyCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Apply, read, list, export and delete the policies you own",
	}
	var o casFlags
	apply := &cobra.Command{
		Use:   "apply FILE",
		Short: "Create or replace a policy (a replacement names the current version's hash in previous)",
		Long: `Check the policy FILE (docs/cas.md), sign its exact bytes with --owner-key
and send it. A new policy is signed by the owner it names; a replacement
names the current version's hash in 'previous' and is signed by the
current version's owner (it may name a new owner). Prints the new version's
hash.`,
		Example: `  scone-build cas policy apply web.yaml --cas cas.example:8443 --cas-id ID --owner-key owner.pem`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := readLimited(args[0], policy.MaxSize)
			if err != nil {
				return fmt.Errorf("reading policy: %w", err)
			}
			p, err := policy.Parse(doc)
			if err != nil {
				return fmt.Errorf("checking policy %q: %w", args[0], err)
			}
			c, k, err := o.owner()
			if err != nil {
				return err
			}
			res, err := c.Apply(cmd.Context(), p.Name, doc, k)
			if err != nil {
				return fmt.Errorf("applying policy %q: %w", p.Name, err)
			}
			if o.json {
				return printJSON(a, res)
			}
			fmt.Fprintf(a.stdout, "applied policy %s version %s\n", res.Name, res.Hash)
			return nil
		},
	}
	o.add(apply, true)
	apply.Flags().BoolVar(&o.json, "json", false, "print {name, hash} as JSON")

	var og casFlags
	get := &cobra.Command{
		Use:   "get NAME",
		Short: "Print the current version of a policy (its exact document)",
		Long: `Print the current version of policy NAME, the exact document (so that
'previous' of the next version is its hash); its hash and activations go to
stderr. --json prints {name, hash, activations, policy}.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, k, err := og.owner()
			if err != nil {
				return err
			}
			res, err := c.Read(cmd.Context(), args[0], k)
			if err != nil {
				return fmt.Errorf("reading policy %q: %w", args[0], err)
			}
			if og.json {
				return printJSON(a, struct {
					Name        string `json:"name"`
					Hash        string `json:"hash"`
					Activations uint64 `json:"activations"`
					Policy      string `json:"policy"`
				}{args[0], res.Hash, res.Activations, string(res.Policy)})
			}
			a.stdout.Write(res.Policy)
			fmt.Fprintf(a.stderr, "policy %s version %s, %d activation(s)\n", args[0], res.Hash, res.Activations)
			return nil
		},
	}
	og.add(get, true)
	get.Flags().BoolVar(&og.json, "json", false, "print as JSON")

	var ol casFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List the policies --owner-key owns",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, k, err := ol.owner()
			if err != nil {
				return err
			}
			res, err := c.List(cmd.Context(), k)
			if err != nil {
				return fmt.Errorf("listing policies: %w", err)
			}
			if ol.json {
				return printJSON(a, res)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tACTIVATIONS")
			for _, p := range res.Policies {
				fmt.Fprintf(tw, "%s\t%s\t%d\n", p.Name, p.Hash, p.Activations)
			}
			return tw.Flush()
		},
	}
	ol.add(list, true)
	list.Flags().BoolVar(&ol.json, "json", false, "print as JSON")

	var od casFlags
	var delHash string
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a policy (its generated secrets are gone for good)",
		Long: `Delete policy NAME: its versions, generated secrets, CA and counters.
Enclaves can no longer get its secrets, and no version of it that was ever
applied can be applied again. --hash names the version to delete (default:
the current one, read first).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, k, err := od.owner()
			if err != nil {
				return err
			}
			hash, err := currentHash(cmd.Context(), c, k, args[0], delHash)
			if err != nil {
				return err
			}
			if err := c.Delete(cmd.Context(), args[0], hash, k); err != nil {
				return fmt.Errorf("deleting policy %q: %w", args[0], err)
			}
			fmt.Fprintf(a.stdout, "deleted policy %s (version %s)\n", args[0], hash)
			return nil
		},
	}
	od.add(del, true)
	del.Flags().StringVar(&delHash, "hash", "", "delete only if this is the current version (64 hex digits)")

	var oe casFlags
	var expHash string
	export := &cobra.Command{
		Use:   "export NAME",
		Short: "Print the secrets of a policy that it marks export: true",
		Long: `Print, as JSON {"secrets": {NAME: base64}}, the secrets of policy NAME
that it marks 'export: true' (an x509 secret: its PEM private key, then its
PEM certificate). Other secrets never leave the CAS except sealed to an
attested enclave. --hash names the version (default: the current one).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, k, err := oe.owner()
			if err != nil {
				return err
			}
			hash, err := currentHash(cmd.Context(), c, k, args[0], expHash)
			if err != nil {
				return err
			}
			res, err := c.Export(cmd.Context(), args[0], hash, k)
			if err != nil {
				return fmt.Errorf("exporting policy %q: %w", args[0], err)
			}
			names := make([]string, 0, len(res.Secrets))
			for n := range res.Secrets {
				names = append(names, n)
			}
			sort.Strings(names)
			fmt.Fprintf(a.stderr, "exported %d secret(s) of policy %s version %s: %v\n", len(names), args[0], hash, names)
			return printJSON(a, res)
		},
	}
	oe.add(export, true)
	export.Flags().StringVar(&expHash, "hash", "", "export only if this is the current version (64 hex digits)")

	cmd.AddCommand(apply, get, list, del, export)
	return cmd
}

// currentHash is hash, or the current version's hash read from the CAS.
func currentHash(ctx context.Context, c *cas.Client, k crypto.Signer, name, hash string) (string, error) {
	if hash != "" {
		if _, err := cas.ParseID(hash); err != nil {
			return "", usagef("--hash %q: want the 64 hex digits of a version ('scone-build cas policy get' shows it)", hash)
		}
		return hash, nil
	}
	res, err := c.Read(ctx, name, k)
	if err != nil {
		return "", fmt.Errorf("reading policy %q: %w", name, err)
	}
	return res.Hash, nil
}

func casHints(err error) (int, string, bool) {
	var ae *cas.APIError
	var oke ownerKeyError
	var te *policy.TemplateError
	switch {
	case errors.Is(err, cas.ErrSelfAttestation):
		return exitVerification, "the server at --cas is not the CAS enclave you expect, or runs in none: check --simulation-key / --collateral and --mrenclave ('scone-build inspect' of the CAS image shows its MRENCLAVE)", true
	case errors.Is(err, cas.ErrNotRecovering):
		return exitRefused, "the server at --cas is not a CAS in recovery mode (or recovers another CAS ID than --cas-id): nothing to hand a share to", true
	case errors.Is(err, cas.ErrRecovery):
		return exitKey, "--recovery-key must be the private key whose public key the CAS was started with (scone-cas serve --recovery-key): PEM PRIVATE KEY of P-256 or X25519", true
	case errors.As(err, &te):
		return exitBadInput, "--policy-template is a policy (docs/cas.md) without enclaves and without the secret and grant fs_key: the converter fills those in", true
	case errors.Is(err, cas.ErrPin):
		return exitVerification, "the server at --cas has another key than --cas-id: check the address; if the CAS was re-keyed, verify its new ID out of band (scone-cas id --state DIR on its host) before pinning it", true
	case errors.Is(err, cas.ErrUnreachable):
		return exitIO, "check --cas HOST:PORT and that scone-cas serve runs there (and speaks TLS)", true
	case errors.As(err, &oke) || errors.Is(err, cas.ErrOwnerKey):
		return exitKey, "--owner-key must be the owner's private key, PEM PRIVATE KEY (PKCS #8) of Ed25519 or ECDSA P-256, e.g. made with 'openssl genpkey -algorithm ed25519 -out owner.pem'", true
	case errors.Is(err, policy.ErrInvalid):
		return exitBadInput, "fix the policy: docs/cas.md lists every field and its rule", true
	case errors.As(err, &ae):
		switch ae.Status {
		case http.StatusBadRequest:
			return exitBadInput, ae.Fix, true
		case http.StatusForbidden:
			return exitVerification, ae.Fix, true
		case http.StatusNotFound, http.StatusConflict:
			return exitRefused, ae.Fix, true
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			return exitIO, ae.Fix, true
		}
		return exitInternal, ae.Fix, true
	}
	return 0, "", false // hinters see every command's errors: match only the CAS's
}
