package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/scone-build/scone-build/pkg/cas"
	"github.com/scone-build/scone-build/pkg/convert"
	"github.com/scone-build/scone-build/pkg/fsprotect"
	"github.com/scone-build/scone-build/pkg/policy"
)

// registerFlags are convert's --cas-register flags: the converter makes
// the FS key and puts it into the policy through the owner API, so that
// it is never in a file (docs/cas.md, "Registering at conversion").
type registerFlags struct {
	on       bool
	ownerKey string
	template string
	api      string
}

func (r *registerFlags) addTo(f *pflag.FlagSet) {
	f.BoolVar(&r.on, "cas-register", false, "generate the FS key and store it in --policy at the CAS (created or updated with this image's MRENCLAVE; needs --owner-key): it is never written to a file")
	f.StringVar(&r.ownerKey, "owner-key", "", "with --cas-register: the policy owner's private key (PEM PRIVATE KEY: Ed25519 or ECDSA P-256)")
	f.StringVar(&r.template, "policy-template", "", "with --cas-register: the policy to register the image in, without enclaves and fs_key (default: the current version, or a minimal policy)")
	f.StringVar(&r.api, "cas-api", "", "with --cas-register: where this host reaches the CAS's owner API, HOST:PORT (default: --cas)")
}

// check refuses flag combinations before anything is read.
func (r *registerFlags) check(o *convertOptions) error {
	if !r.on {
		if r.ownerKey != "" || r.template != "" || r.api != "" {
			return usagef("--owner-key, --policy-template and --cas-api go with --cas-register")
		}
		return nil
	}
	if o.fsKeyFile != "" {
		return usagef("--cas-register generates the FS key and stores it in the policy only: drop --fs-key")
	}
	if o.cas == "" || o.casID == "" || o.policy == "" {
		return usagef("--cas-register needs --cas, --cas-id and --policy: the CAS and the policy to register the image in")
	}
	if r.ownerKey == "" {
		return usagef("--cas-register needs --owner-key: the key of the policy's owner, which signs the new version")
	}
	return nil
}

// registration is a --cas-register in progress: the CAS, the policy's
// current version and the FS key made for the image.
type registration struct {
	client   *cas.Client
	key      crypto.Signer
	name     string
	tmpl     []byte
	current  bool // tmpl is the current version's document
	previous [32]byte
	fsKey    fsprotect.Key
}

// prepare connects to the CAS (pinned), reads the policy's current
// version with the owner key, checks the template and makes the FS key;
// nil without --cas-register.
func (r *registerFlags) prepare(ctx context.Context, o *convertOptions) (*registration, error) {
	if !r.on {
		return nil, nil
	}
	addr := r.api
	if addr == "" {
		addr = o.cas
	}
	cf := casFlags{addr: addr, casID: o.casID, ownerKey: r.ownerKey, timeout: 30 * time.Second}
	c, k, err := cf.owner()
	if err != nil {
		return nil, err
	}
	reg := &registration{client: c, key: k, name: o.policy}
	cur, err := c.Read(ctx, o.policy, k)
	switch {
	case errors.Is(err, cas.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("reading policy %q: %w", o.policy, err)
	default:
		h, err := hex.DecodeString(cur.Hash)
		if err != nil || len(h) != 32 {
			return nil, fmt.Errorf("reading policy %q: version %q is not a hash", o.policy, cur.Hash)
		}
		reg.previous = [32]byte(h)
		reg.tmpl, reg.current = cur.Policy, true
	}
	if r.template != "" {
		if reg.tmpl, err = readLimited(r.template, policy.MaxSize); err != nil {
			return nil, fmt.Errorf("reading policy template: %w", err)
		}
		reg.current = false
	}
	// the template's mistakes show before the build
	if _, err := reg.document([32]byte{}); err != nil {
		return nil, err
	}
	if _, err := rand.Read(reg.fsKey[:]); err != nil {
		return nil, fmt.Errorf("generating the FS key: %w", err)
	}
	return reg, nil
}

func (reg *registration) document(mrenclave [32]byte) ([]byte, error) {
	doc, err := policy.ForImage(reg.tmpl, reg.current, policy.Image{Name: reg.name, Owner: reg.key.Public(),
		Previous: reg.previous, MRENCLAVE: mrenclave, FSKey: reg.fsKey})
	if err != nil {
		return nil, fmt.Errorf("making policy %q: %w", reg.name, err)
	}
	return doc, nil
}

// register applies the policy version that lists the built image and
// holds its FS key, and records it in the report.
func (reg *registration) register(ctx context.Context, a *app, report *convert.Report) error {
	mre, err := hex.DecodeString(report.MRENCLAVE)
	if err != nil || len(mre) != 32 {
		return fmt.Errorf("registering the image: MRENCLAVE %q is not 32 bytes of hex", report.MRENCLAVE)
	}
	doc, err := reg.document([32]byte(mre))
	if err != nil {
		return err
	}
	defer clear(doc)
	res, err := reg.client.Apply(ctx, reg.name, doc, reg.key)
	if err != nil {
		return fmt.Errorf("registering the image in policy %q: %w", reg.name, err)
	}
	report.CAS.PolicyVersion = res.Hash
	if p, err := policy.Parse(doc); err == nil && !p.Accept.Simulation {
		fmt.Fprintf(a.stderr, "scone-build: note: policy %s does not accept simulation enclaves: in simulation mode the CAS refuses this image "+
			"(set accept.simulation: true in --policy-template for development)\n", reg.name)
	}
	return nil
}

// wipe clears the FS key (best effort: Go may have copied it).
func (reg *registration) wipe() { clear(reg.fsKey[:]) }
