package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/attest"
)

type quoteVerifyOptions struct {
	collateral    string
	at            string
	json          bool
	simulationKey string
	acceptTCB     []string
}

func newQuoteCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quote",
		Short: "Verify SGX DCAP quotes (hardware and simulation)",
	}
	var o quoteVerifyOptions
	verify := &cobra.Command{
		Use:   "verify QUOTE",
		Short: "Verify an SGX DCAP quote v3 with its collateral, offline, in pure Go",
		Long: `Verify QUOTE, a raw SGX DCAP ECDSA quote version 3, with the collateral a
PCCS hands out for its platform (--collateral, the JSON described in
docs/attestation.md): the quote's signature by the attestation key, the QE
report signed by the PCK certificate and binding the attestation key, the
PCK chain and the collateral's chains up to the pinned Intel SGX Root CA
key, the root CA and PCK CRLs, the signed TCB info and QE identity, the
quoting enclave against the QE identity, the platform's TCB level, and that
all of it is valid at --at (default: now).

It prints the enclave's identity (MRENCLAVE, MRSIGNER, ISVPRODID, ISVSVN,
attributes, report data) and the platform's TCB status and advisories.

A simulation quote (signed by a simulation key, not by SGX hardware) needs
--simulation-key, the simulation public key a policy accepts; it has no
hardware security and is printed as SIMULATION.

Exits 0 when the quote verifies, 4 when it does not, 3 when QUOTE or the
collateral is not one.`,
		Example: `  scone-build quote verify quote.bin --collateral collateral.json
  scone-build quote verify quote.bin --collateral collateral.json --at 2025-07-01T00:00:00Z --json
  scone-build quote verify sim-quote.bin --simulation-key sim.pub`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runQuoteVerify(a, args[0], &o) },
	}
	f := verify.Flags()
	f.StringVar(&o.collateral, "collateral", "", "the quote's collateral JSON, as a PCCS hands it out (docs/attestation.md)")
	f.StringVar(&o.at, "at", "", "verify at this time (RFC 3339, e.g. 2025-07-01T00:00:00Z) instead of now")
	f.BoolVar(&o.json, "json", false, "print the result as JSON")
	f.StringVar(&o.simulationKey, "simulation-key", "", "accept a SIMULATION quote signed by this ECDSA P-256 public key (PEM)")
	f.StringSliceVar(&o.acceptTCB, "accept-tcb-status", nil, "accept only these TCB statuses (default: all but Revoked), e.g. UpToDate,SWHardeningNeeded")
	cmd.AddCommand(verify)
	return cmd
}

// simulationKeyError marks a --simulation-key file that cannot be used.
type simulationKeyError struct{ err error }

func (e simulationKeyError) Error() string { return e.err.Error() }
func (e simulationKeyError) Unwrap() error { return e.err }

func loadSimulationKey(path string) (*ecdsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, simulationKeyError{fmt.Errorf("reading simulation key %q: %w", path, err)}
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, simulationKeyError{fmt.Errorf("reading simulation key %q: not a PEM \"PUBLIC KEY\"", path)}
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, simulationKeyError{fmt.Errorf("reading simulation key %q: %w", path, err)}
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, simulationKeyError{fmt.Errorf("reading simulation key %q: a %T, want an ECDSA P-256 key", path, pub)}
	}
	return k, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1)) // the parsers refuse what is longer
}

func runQuoteVerify(a *app, path string, o *quoteVerifyOptions) error {
	var opts []attest.Option
	if o.at != "" {
		t, err := time.Parse(time.RFC3339, o.at)
		if err != nil {
			return usagef("--at %q: want an RFC 3339 time such as 2025-07-01T00:00:00Z", o.at)
		}
		opts = append(opts, attest.WithTime(t))
	}
	if len(o.acceptTCB) > 0 {
		var st []attest.TCBStatus
		for _, s := range o.acceptTCB {
			t, err := attest.ParseTCBStatus(strings.TrimSpace(s))
			if err != nil {
				return usagef("--accept-tcb-status: %v", err)
			}
			if t == attest.TCBRevoked {
				return usagef("--accept-tcb-status: Revoked is never accepted")
			}
			st = append(st, t)
		}
		opts = append(opts, attest.WithAcceptedTCBStatuses(st...))
	}
	qb, err := readLimited(path, attest.MaxQuoteSize)
	if err != nil {
		return fmt.Errorf("reading quote: %w", err)
	}
	q, err := attest.ParseQuote(qb)
	if err != nil {
		return fmt.Errorf("reading quote %q: %w", path, err)
	}
	var res *attest.Result
	var verr error
	if q.IsSimulation() && o.simulationKey != "" {
		key, err := loadSimulationKey(o.simulationKey)
		if err != nil {
			return err
		}
		res, verr = attest.VerifySimulation(q, key, opts...)
	} else {
		if o.collateral == "" {
			if q.IsSimulation() {
				return fmt.Errorf("verifying quote %q: %w", path, &attest.Error{Step: attest.StepQuote, Kind: attest.ErrSimulation,
					Msg: "a SIMULATION quote (no hardware security): it verifies only with --simulation-key"})
			}
			return usagef("verifying a hardware quote needs its collateral: --collateral FILE (docs/attestation.md)")
		}
		cb, err := readLimited(o.collateral, attest.MaxCollateralSize)
		if err != nil {
			return fmt.Errorf("reading collateral: %w", err)
		}
		c, err := attest.ParseCollateral(cb)
		if err != nil {
			return fmt.Errorf("reading collateral %q: %w", o.collateral, err)
		}
		res, verr = attest.Verify(q, c, opts...)
	}
	if verr != nil {
		verr = fmt.Errorf("verifying quote %q: %w", path, verr)
	}
	if o.json {
		if err := printQuoteJSON(a, res, verr); err != nil {
			return err
		}
	} else if res != nil {
		printQuoteText(a, res, verr)
	}
	return verr
}

// printableData returns the report data as text when it is printable ASCII
// followed only by zero bytes.
func printableData(d [64]byte) (string, bool) {
	n := 0
	for n < len(d) && d[n] != 0 {
		if d[n] < 0x20 || d[n] > 0x7e {
			return "", false
		}
		n++
	}
	for _, c := range d[n:] {
		if c != 0 {
			return "", false
		}
	}
	return string(d[:n]), n > 0
}

const simulationBanner = "SIMULATION (no hardware security): signed by a simulation key, not by SGX hardware; the enclave's memory is not protected"

func printQuoteText(a *app, r *attest.Result, verr error) {
	w := a.stdout
	e := r.Enclave
	if r.Simulation {
		fmt.Fprintln(w, simulationBanner)
		fmt.Fprintf(w, "quote        SIMULATION quote v3, simulation key SHA-256 %s\n", attest.KeyFingerprint(r.AttestationKey))
	} else {
		fmt.Fprintf(w, "quote        SGX DCAP ECDSA-P256 quote v3, verified at %s\n", r.VerifiedAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "MRENCLAVE    %x\n", e.MRENCLAVE[:])
	fmt.Fprintf(w, "MRSIGNER     %x\n", e.MRSIGNER[:])
	fmt.Fprintf(w, "ISVPRODID    %d\n", e.ISVProdID)
	fmt.Fprintf(w, "ISVSVN       %d\n", e.ISVSVN)
	fmt.Fprintf(w, "attributes   flags %#016x (%s), xfrm %#016x\n", e.Attributes.Flags, e.Attributes, e.Attributes.XFRM)
	if e.Attributes.Debug() {
		fmt.Fprintf(w, "DEBUG        a DEBUG enclave: the host can read its memory, it protects nothing\n")
	}
	if s, ok := printableData(e.ReportData); ok {
		fmt.Fprintf(w, "report data  %x (%q, then zero bytes)\n", e.ReportData[:], s)
	} else {
		fmt.Fprintf(w, "report data  %x\n", e.ReportData[:])
	}
	if r.Simulation {
		fmt.Fprintf(w, "TCB status   none (SIMULATION)\n")
		fmt.Fprintf(w, "result       OK, SIMULATION: the accepted simulation key signed this quote (no hardware security)\n")
		return
	}
	fmt.Fprintf(w, "FMSPC        %x (PCE ID %x)\n", r.FMSPC[:], r.PCEID[:])
	fmt.Fprintf(w, "TCB status   %s: %s\n", r.TCBStatus, r.TCBStatus.Explain())
	adv := "none"
	if len(r.Advisories) > 0 {
		adv = strings.Join(r.Advisories, ", ")
	}
	fmt.Fprintf(w, "advisories   %s\n", adv)
	fmt.Fprintf(w, "TCB level    %s: platform %s, quoting enclave %s (QE ISVSVN %d), TCB evaluation data number %d\n",
		r.TCBDate.UTC().Format("2006-01-02"), r.PlatformTCBStatus, r.QETCBStatus, r.QEISVSVN, r.TCBEvaluationDataNumber)
	fmt.Fprintf(w, "collateral   valid from %s to %s\n", r.CollateralNotBefore.UTC().Format(time.RFC3339), r.CollateralNotAfter.UTC().Format(time.RFC3339))
	if verr != nil {
		fmt.Fprintf(w, "result       FAIL: the quote is genuine, but its TCB status %s is not accepted\n", r.TCBStatus)
		return
	}
	fmt.Fprintf(w, "result       OK: a genuine SGX enclave on a platform with TCB status %s\n", r.TCBStatus)
}

type quoteJSON struct {
	OK          bool     `json:"ok"`
	Simulation  bool     `json:"simulation"`
	Warning     string   `json:"warning,omitempty"`
	Error       string   `json:"error,omitempty"`
	MRENCLAVE   string   `json:"mrenclave,omitempty"`
	MRSIGNER    string   `json:"mrsigner,omitempty"`
	ISVProdID   *uint16  `json:"isvprodid,omitempty"`
	ISVSVN      *uint16  `json:"isvsvn,omitempty"`
	Flags       string   `json:"attributes_flags,omitempty"`
	XFRM        string   `json:"attributes_xfrm,omitempty"`
	Debug       *bool    `json:"debug,omitempty"`
	ReportData  string   `json:"report_data,omitempty"`
	SimKey      string   `json:"simulation_key_sha256,omitempty"`
	FMSPC       string   `json:"fmspc,omitempty"`
	PCEID       string   `json:"pceid,omitempty"`
	TCBStatus   string   `json:"tcb_status,omitempty"`
	Advisories  []string `json:"advisories,omitempty"`
	PlatformTCB string   `json:"platform_tcb_status,omitempty"`
	QETCB       string   `json:"qe_tcb_status,omitempty"`
	TCBDate     string   `json:"tcb_date,omitempty"`
	NotBefore   string   `json:"collateral_not_before,omitempty"`
	NotAfter    string   `json:"collateral_not_after,omitempty"`
	VerifiedAt  string   `json:"verified_at,omitempty"`
}

func printQuoteJSON(a *app, r *attest.Result, verr error) error {
	out := quoteJSON{OK: verr == nil}
	if verr != nil {
		out.Error = verr.Error()
		out.Simulation = errors.Is(verr, attest.ErrSimulation)
	}
	if r != nil {
		e := r.Enclave
		out.Simulation = r.Simulation
		out.MRENCLAVE, out.MRSIGNER = hex.EncodeToString(e.MRENCLAVE[:]), hex.EncodeToString(e.MRSIGNER[:])
		out.ISVProdID, out.ISVSVN = &e.ISVProdID, &e.ISVSVN
		debug := e.Attributes.Debug()
		out.Flags, out.XFRM, out.Debug = fmt.Sprintf("%#016x", e.Attributes.Flags), fmt.Sprintf("%#016x", e.Attributes.XFRM), &debug
		out.ReportData = hex.EncodeToString(e.ReportData[:])
		out.VerifiedAt = r.VerifiedAt.UTC().Format(time.RFC3339)
		if r.Simulation {
			out.SimKey = attest.KeyFingerprint(r.AttestationKey)
			out.TCBStatus = "none (SIMULATION)"
		} else {
			out.FMSPC, out.PCEID = hex.EncodeToString(r.FMSPC[:]), hex.EncodeToString(r.PCEID[:])
			out.TCBStatus, out.Advisories = string(r.TCBStatus), r.Advisories
			out.PlatformTCB, out.QETCB = string(r.PlatformTCBStatus), string(r.QETCBStatus)
			out.TCBDate = r.TCBDate.UTC().Format(time.RFC3339)
			out.NotBefore, out.NotAfter = r.CollateralNotBefore.UTC().Format(time.RFC3339), r.CollateralNotAfter.UTC().Format(time.RFC3339)
		}
	}
	if out.Simulation {
		out.Warning = simulationBanner
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func quoteHints(err error) (int, string, bool) {
	var ske simulationKeyError
	var fe *attest.FormatError
	var ve *attest.ValidityError
	var ae *attest.Error
	errors.As(err, &ae)
	step := ""
	if ae != nil {
		step = ae.Step
	}
	switch {
	case errors.As(err, &ske):
		return exitKey, "--simulation-key must name the ECDSA P-256 public key (PEM \"PUBLIC KEY\") the simulation quotes are signed with", true
	case errors.As(err, &fe) && (fe.Part == "root_ca_crl" || fe.Part == "pck_crl"):
		return exitBadInput, "the CRLs of the collateral are hex-encoded DER (or PEM): fetch them again from the PCCS/PCS (rootcacrl, pckcrl?ca=processor|platform)", true
	case errors.As(err, &fe) && fe.Part == "certification data type":
		return exitBadInput, "the quote must carry its PCK certificate chain (certification data type 5): configure the quote provider library / PCCS so that quotes include it", true
	case errors.As(err, &fe) && fe.What == "DCAP collateral":
		return exitBadInput, "--collateral must be the collateral JSON a PCCS hands out for the quote's platform, with its nine fields (docs/attestation.md): fetch it again", true
	case errors.As(err, &fe):
		return exitBadInput, "QUOTE must be a raw (binary) SGX DCAP ECDSA quote, version 3, as the quoting library returns it (sgx_qe_get_quote, /dev/attestation/quote): decode base64 or hex first", true
	case errors.As(err, &ve) && ve.Expired() && ve.Certificate && strings.Contains(ve.Item, "PCK Certificate"):
		return exitVerification, "the platform's PCK certificate expired: the platform needs a new one (refresh the PCCS cache from the PCS), then quote again", true
	case errors.Is(err, attest.ErrExpired):
		return exitVerification, "fetch fresh collateral from the PCCS/PCS for this platform (its FMSPC) and verify again; to check a quote as of an earlier time (an audit), pass --at", true
	case errors.Is(err, attest.ErrNotYetValid):
		return exitVerification, "the collateral was issued after the verification time: check this machine's clock (or --at)", true
	case errors.Is(err, attest.ErrRevoked):
		return exitVerification, "Intel revoked a certificate of this platform or of its collateral: the platform can no longer be trusted; nothing to fix on the verifier's side", true
	case errors.Is(err, attest.ErrSignature):
		return exitVerification, "the quote or the collateral was modified after it was signed, or parts of different ones were combined: get the quote and its collateral again", true
	case errors.Is(err, attest.ErrChain) && step == attest.StepSimulationKey:
		return exitVerification, "the simulation quote was signed by another simulation key: pass the key your policy accepts (--simulation-key), or make the quote with it", true
	case errors.Is(err, attest.ErrChain):
		return exitVerification, "the certificates do not lead to the Intel SGX Root CA: the quote or collateral was not issued by Intel (a test or forged PKI), or its parts come from different sources", true
	case errors.Is(err, attest.ErrTCB) && strings.Contains(err.Error(), "no TCB level"):
		return exitVerification, "the platform's TCB is older than every level Intel lists: update its microcode/BIOS, then quote again", true
	case errors.Is(err, attest.ErrTCB):
		return exitVerification, "the collateral is for another platform: fetch the TCB info for the FMSPC of the quote's PCK certificate from the PCCS/PCS", true
	case errors.Is(err, attest.ErrTCBStatus):
		return exitVerification, "update the platform's microcode/BIOS (see the advisories), or accept this status explicitly with --accept-tcb-status", true
	case errors.Is(err, attest.ErrQEIdentity):
		return exitVerification, "the quoting enclave is not Intel's as the QE identity describes it: quote with Intel's quoting enclave, or fetch the current QE identity", true
	case errors.Is(err, attest.ErrSimulation):
		return exitVerification, "this is a SIMULATION quote (no hardware security): verify it with --simulation-key PUB, the simulation key your policy accepts", true
	}
	return 0, "", false
}
