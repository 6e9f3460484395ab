package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
)

// identityFlags are the flags that name an expected enclave identity.
type identityFlags struct {
	mrsigner  string
	signerPub string
	mrenclave []string
	isvProdID string
	minISVSVN string
}

// register adds the identity flags to f; signer adds --mrsigner (keygen takes
// the signer from the key it makes or from its own --signer-pub).
func (o *identityFlags) register(f *pflag.FlagSet, signer bool) {
	if signer {
		f.StringVar(&o.mrsigner, "mrsigner", "", "expected MRSIGNER (64 hex digits)")
	}
	f.StringSliceVar(&o.mrenclave, "mrenclave", nil, "also require this MRENCLAVE (64 hex digits; repeatable: any of them)")
	f.StringVar(&o.isvProdID, "isv-prodid", "", "also require this ISVPRODID")
	f.StringVar(&o.minISVSVN, "min-isvsvn", "", "also require an ISVSVN of at least this (refuses older versions)")
}

func parseHex32(flag, v string) ([32]byte, error) {
	b, err := hex.DecodeString(v)
	if err != nil || len(b) != 32 {
		return [32]byte{}, usagef("%s %q: want 64 hex digits", flag, v)
	}
	return [32]byte(b), nil
}

// identity returns what the flags name (MRSIGNER from --mrsigner or the
// --signer-pub of key pin; keygen sets it itself).
func (o *identityFlags) identity() (fskey.Identity, error) {
	var id fskey.Identity
	if o.mrsigner != "" && o.signerPub != "" {
		return id, usagef("--mrsigner and --signer-pub exclude each other")
	}
	if o.mrsigner != "" {
		m, err := parseHex32("--mrsigner", o.mrsigner)
		if err != nil {
			return id, err
		}
		id.MRSIGNER = &m
	}
	if o.signerPub != "" {
		pub, err := enclave.LoadPublicKey(o.signerPub)
		if err != nil {
			return id, keyFileError{"--signer-pub", err}
		}
		m, err := enclave.MRSIGNER(pub)
		if err != nil {
			return id, err
		}
		id.MRSIGNER = &m
	}
	for _, v := range o.mrenclave {
		m, err := parseHex32("--mrenclave", v)
		if err != nil {
			return id, err
		}
		id.MRENCLAVE = append(id.MRENCLAVE, m)
	}
	if len(id.MRENCLAVE) > fskey.MaxMRENCLAVEs {
		return id, usagef("at most %d --mrenclave values", fskey.MaxMRENCLAVEs)
	}
	for _, p := range []struct {
		flag, v string
		dst     **uint16
	}{{"--isv-prodid", o.isvProdID, &id.ISVProdID}, {"--min-isvsvn", o.minISVSVN, &id.MinISVSVN}} {
		if p.v == "" {
			continue
		}
		n, err := strconv.ParseUint(p.v, 10, 16)
		if err != nil {
			return id, usagef("%s %q: want a number from 0 to 65535", p.flag, p.v)
		}
		v := uint16(n)
		*p.dst = &v
	}
	return id, nil
}

type keyPinOptions struct {
	identityFlags
	add bool
}

func newKeyCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Show or pin the enclave identity an FS key file belongs to",
		Long: `An FS key file (docs/keys.md) records the enclave identity its owner
expects: MRSIGNER, and optionally MRENCLAVE values, ISVPRODID and a minimum
ISVSVN. The runtime gives the key only to such an enclave.`,
	}
	var po keyPinOptions
	pin := &cobra.Command{
		Use:   "pin FS-KEY-FILE",
		Short: "Record the expected enclave identity in an FS key file (keeps the key)",
		Long: `Rewrite FS-KEY-FILE (atomically, mode 0600) with the same key and the
identity the flags name. It turns a bare key (64 hex digits, as earlier
releases wrote) into a version 1 key file, or changes what an existing one
expects. With --add, the flags add to the identity already recorded instead
of replacing it (for example one more --mrenclave).`,
		Example: `  scone-build key pin fs.key --signer-pub keys/signer.pub
  scone-build key pin fs.key --add --mrenclave 3f2a...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runKeyPin(a, args[0], &po) },
	}
	f := pin.Flags()
	f.StringVar(&po.signerPub, "signer-pub", "", "expect the MRSIGNER of this signer public key (PEM)")
	po.identityFlags.register(f, true)
	f.BoolVar(&po.add, "add", false, "add to the identity already in the file instead of replacing it")
	show := &cobra.Command{
		Use:   "show FS-KEY-FILE",
		Short: "Print the enclave identity an FS key file expects (never the key)",
		Args:  cobra.ExactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return runKeyShow(a, args[0]) },
	}
	cmd.AddCommand(pin, show)
	return cmd
}

func runKeyPin(a *app, path string, o *keyPinOptions) error {
	id, err := o.identityFlags.identity()
	if err != nil {
		return err
	}
	f, err := fskey.Load(path)
	if err != nil {
		return keyFileError{"--fs-key", err}
	}
	if o.add {
		old := f.Identity
		if id.MRSIGNER != nil && old.MRSIGNER != nil && *id.MRSIGNER != *old.MRSIGNER {
			return usagef("--add cannot change the recorded MRSIGNER; pin without --add to replace the identity")
		}
		if id.MRSIGNER == nil {
			id.MRSIGNER = old.MRSIGNER
		}
		id.MRENCLAVE = append(old.MRENCLAVE, id.MRENCLAVE...)
		if id.ISVProdID == nil {
			id.ISVProdID = old.ISVProdID
		}
		if id.MinISVSVN == nil {
			id.MinISVSVN = old.MinISVSVN
		}
	}
	if id.IsZero() {
		return usagef("name the identity to expect: --signer-pub, --mrsigner or --mrenclave")
	}
	if (id.ISVProdID != nil || id.MinISVSVN != nil) && id.MRSIGNER == nil {
		return usagef("--isv-prodid and --min-isvsvn need the signer (--signer-pub or --mrsigner)")
	}
	if len(id.MRENCLAVE) > fskey.MaxMRENCLAVEs {
		return usagef("at most %d MRENCLAVE values", fskey.MaxMRENCLAVEs)
	}
	f.Identity = id
	if err := f.Write(path, true); err != nil {
		return err
	}
	return printIdentity(a, path, f)
}

func runKeyShow(a *app, path string) error {
	f, err := fskey.Load(path)
	if err != nil {
		return keyFileError{"--fs-key", err}
	}
	return printIdentity(a, path, f)
}

func printIdentity(a *app, path string, f *fskey.File) error {
	fmt.Fprintf(a.stdout, "FS key file  %s\n", path)
	if f.Bare() {
		_, err := fmt.Fprintf(a.stdout, "identity     none (a bare key: the runtime refuses it unless the deployer sets SCONE_EXPECTED_MRSIGNER; pin it with 'scone-build key pin')\n")
		return err
	}
	id := f.Identity
	if id.MRSIGNER != nil {
		fmt.Fprintf(a.stdout, "MRSIGNER     %x\n", id.MRSIGNER[:])
	}
	for _, m := range id.MRENCLAVE {
		fmt.Fprintf(a.stdout, "MRENCLAVE    %x\n", m[:])
	}
	if id.ISVProdID != nil {
		fmt.Fprintf(a.stdout, "ISVPRODID    %d\n", *id.ISVProdID)
	}
	if id.MinISVSVN != nil {
		fmt.Fprintf(a.stdout, "min ISVSVN   %d\n", *id.MinISVSVN)
	}
	return nil
}

// identityMismatchError: the image just converted (or verified) is not one
// the FS key's owner expects.
type identityMismatchError struct{ err error }

func (e identityMismatchError) Error() string { return e.err.Error() }
func (e identityMismatchError) Unwrap() error { return e.err }

func keyHints(err error) (int, string, bool) {
	var ime identityMismatchError
	switch {
	case errors.As(err, &ime):
		return exitKey, "the runtime gives the FS key only to the enclave identity recorded in the key file ('scone-build key show'): sign with the key the FS key was made for, or re-pin it ('scone-build key pin')", true
	case errors.Is(err, fskey.ErrFormat):
		return exitKey, "an FS key file is what 'scone-build keygen' writes (docs/keys.md), or 64 hex digits", true
	}
	return 0, "", false
}
