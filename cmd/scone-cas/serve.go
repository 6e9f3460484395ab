package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/cas"
	"github.com/scone-build/scone-build/pkg/version"
)

// Files of the state directory.
const (
	identityFile = "identity.pem"
	// sealedIdentityFile: the identity key sealed with the enclave's
	// sealing key (--store-key sealed)
	sealedIdentityFile = "identity.sealed"
	// sealedStoreKeyFile: the store key sealed to the enclave, after a
	// recovery (else it is derived from the sealing key)
	sealedStoreKeyFile = "store-key.sealed"
	storeFile          = "cas.db"
	auditFile          = "audit.log"
)

type serveOptions struct {
	listen         string
	state          string
	store          string
	storeKeyFile   string
	storeKey       string
	simulationKeys []string
	collaterals    []string
	auditLog       string
	// recovery (sealed state only): owners' public keys, and how many of
	// their shares recover the state
	recoveryKeys      []string
	recoveryThreshold int
	sessionTTL        time.Duration
}

func serveCommand(a *app) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the CAS: the enclave protocol and the owner API on one TLS port",
		Long: `Run the CAS. The state directory (--state) holds the identity key
(identity.pem: its CAS ID is what clients pin) and the store (cas.db, every
value encrypted with the store key); the first start creates both. With
--store etcd://HOST:PORT the policies live in an etcd cluster instead, so
that several replicas (each with a copy of identity.pem and the store key)
serve one set of policies. The
audit log (default STATE/audit.log) gets one JSON line per release, refusal
and policy change, never a secret.

Hardware quotes are verified with the collateral files given (--collateral,
one per platform type, as a PCCS hands it out); simulation quotes only with
the simulation keys given (--simulation-key), and only for policies with
accept.simulation: simulation has no hardware security.

In an enclave (the CAS converted by scone-build, run by scone-run, which
serves /dev/attestation), GET /v1/id also serves a quote of the CAS's
enclave that binds its CAS ID ('scone-build cas id --simulation-key' or
'--collateral' verifies it). With --store-key sealed, instead of a key file,
the store key is derived from the enclave's sealing key and the identity
key is kept sealed (identity.sealed): only this CAS enclave (its MRENCLAVE)
on this platform opens the state.

With --recovery-key (repeatable; owners' P-256 or X25519 public keys) a
sealed CAS also writes STATE/recovery.json: its store and identity keys
encrypted under a key split among the owners, --recovery-threshold of whom
recover the state. A CAS of another version or on another platform that
cannot open the sealed state then starts in recovery mode: it serves only
the recovery on --listen, with a quote that binds its TLS key, until enough
owners ran 'scone-build cas recover'; it then seals the state to itself and
serves it, same CAS ID, same policies.

SIGINT or SIGTERM stop it: it finishes running requests and exits 0.`,
		Example: `  head -c 32 /dev/urandom > store.key && chmod 600 store.key
  scone-cas serve --listen 0.0.0.0:8443 --state /var/lib/scone-cas --store-key-file store.key \
      --collateral collateral.json --simulation-key sim.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.serve(cmd, &o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8443", "TCP address to listen on (HOST:PORT)")
	f.StringVar(&o.state, "state", "", "state directory: identity key and store (created on first start)")
	f.StringVar(&o.store, "store", "bolt", "where the state lives: bolt (STATE/cas.db) or etcd://HOST:PORT[,HOST:PORT...][/PREFIX] (shared by CAS replicas)")
	f.StringVar(&o.storeKeyFile, "store-key-file", "", "file with the store key: 32 bytes or 64 hex digits")
	f.StringVar(&o.storeKey, "store-key", "", "sealed: derive the store key (and seal the identity key) with the enclave's sealing key, "+
		"/dev/attestation/keys/_sgx_mrenclave (the CAS runs converted: make cas-image); instead of --store-key-file")
	f.StringArrayVar(&o.simulationKeys, "simulation-key", nil, "accept simulation quotes signed by this ECDSA P-256 public key (PEM; repeatable)")
	f.StringArrayVar(&o.collaterals, "collateral", nil, "verify hardware quotes with this collateral JSON (repeatable: one per platform type)")
	f.StringVar(&o.auditLog, "audit-log", "", "append the audit log to this file (default STATE/audit.log)")
	f.StringArrayVar(&o.recoveryKeys, "recovery-key", nil, "with --store-key sealed: an owner's recovery public key (PEM, P-256 or X25519; repeatable); STATE/recovery.json lets them recover the state on another CAS version or platform")
	f.IntVar(&o.recoveryThreshold, "recovery-threshold", 0, "how many owners' shares recover the state (default: all of the --recovery-key owners)")
	f.DurationVar(&o.sessionTTL, "session-ttl", cas.DefaultSessionTTL, "forget an attested session that read or recorded no volume state for this long (at least 1m)")
	cmd.MarkFlagRequired("state")
	return cmd
}

func (a *app) serve(cmd *cobra.Command, o *serveOptions) error {
	log := a.logger()
	if o.sessionTTL < time.Minute {
		return usageError{fmt.Errorf("--session-ttl %v: at least 1m", o.sessionTTL)}
	}
	opts := []cas.Option{cas.WithLogger(log), cas.WithVersion(version.String()), cas.WithSessionTTL(o.sessionTTL)}
	for _, p := range o.simulationKeys {
		b, err := os.ReadFile(p)
		if err != nil {
			return withFix(exitKey, "--simulation-key names a PEM ECDSA P-256 public key file", fmt.Errorf("reading simulation key %q: %w", p, err))
		}
		k, err := cas.ParseSimulationKey(b)
		if err != nil {
			return withFix(exitKey, "--simulation-key names a PEM \"PUBLIC KEY\" of ECDSA P-256 (openssl ec -in sim.pem -pubout)", fmt.Errorf("reading simulation key %q: %w", p, err))
		}
		opts = append(opts, cas.WithSimulationKeys(k))
	}
	for _, p := range o.collaterals {
		b, err := readLimited(p, 4<<20)
		if err != nil {
			return withFix(exitIO, "--collateral names a readable collateral JSON file", fmt.Errorf("reading collateral %q: %w", p, err))
		}
		c, err := attest.ParseCollateral(b)
		if err != nil {
			return fmt.Errorf("reading collateral %q: %w", p, err)
		}
		opts = append(opts, cas.WithCollateral(c))
	}
	if err := os.MkdirAll(o.state, 0o700); err != nil {
		return withFix(exitIO, "--state must be a directory this user can create and write", fmt.Errorf("creating state directory: %w", err))
	}
	keys, err := a.keys(o)
	var rn *recoveryNeeded
	if errors.As(err, &rn) {
		if err := a.recover(cmd.Context(), o, rn.file); errors.Is(err, errStopped) {
			a.logger().Info("scone-cas stopped in recovery mode: the state is not recovered")
			return nil
		} else if err != nil {
			return err
		}
		keys, err = a.keys(o)
	}
	if err != nil {
		return err
	}
	storeKey, key, created := keys.store, keys.identity, keys.created
	if keys.quote != nil {
		opts = append(opts, cas.WithSelfQuote(keys.quote))
	}
	store, err := openStore(cmd.Context(), o, storeKey)
	clear(storeKey) // the store keeps its own copy
	if err != nil {
		if keys.sealed && errors.Is(err, cas.ErrCorrupt) {
			return withFix(exitKey, "the store was made by another CAS enclave (another MRENCLAVE or platform) or with --store-key-file: run that CAS, or use a new --state / --store prefix", err)
		}
		return err
	}
	defer store.Close()
	auditPath := o.auditLog
	if auditPath == "" {
		auditPath = filepath.Join(o.state, auditFile)
	}
	audit, err := os.OpenFile(auditPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return withFix(exitIO, "--audit-log must be a file this user can append to", fmt.Errorf("opening audit log: %w", err))
	}
	defer audit.Close()
	opts = append(opts, cas.WithIdentityKey(key), cas.WithStore(store), cas.WithAuditLog(audit))
	srv, err := cas.New(opts...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return withFix(exitIO, "choose a free address for --listen (HOST:PORT)", fmt.Errorf("listening on %s: %w", o.listen, err))
	}
	if created {
		log.Info("made a new identity key: clients pin its CAS ID", "file", keys.identityPath, "sealed", keys.sealed)
	}
	if keys.quote != nil {
		log.Info("running in an enclave: GET /v1/id serves a quote that binds the CAS ID", "mrenclave", keys.mrenclave, "sealed", keys.sealed)
	}
	if keys.simulation {
		log.Warn("the CAS's enclave runs in SIMULATION mode: its quote and its sealing key come from the host's simulation quote key, so the host can read the sealed state")
	}
	if len(o.simulationKeys) > 0 {
		log.Warn("accepting SIMULATION quotes for policies with accept.simulation: they have no hardware security", "keys", len(o.simulationKeys))
	}
	log.Info("scone-cas serving", "addr", ln.Addr().String(), "cas_id", srv.ID().String(), "version", version.String(), "store", o.store,
		"collaterals", len(o.collaterals), "audit_log", auditPath)
	if a.listening != nil {
		a.listening(ln.Addr())
	}
	if err := srv.Serve(cmd.Context(), ln); err != nil {
		return withFix(exitIO, "", fmt.Errorf("serving: %w", err))
	}
	log.Info("scone-cas stopped")
	return nil
}

// openStore opens the bbolt file of the state directory, or the etcd
// cluster --store names.
func openStore(ctx context.Context, o *serveOptions, key []byte) (cas.Store, error) {
	if o.store == "bolt" || o.store == "" {
		return cas.OpenBolt(filepath.Join(o.state, storeFile), key)
	}
	rest, ok := strings.CutPrefix(o.store, "etcd://")
	if !ok {
		return nil, usageError{fmt.Errorf("--store %q: want bolt or etcd://HOST:PORT[,HOST:PORT...][/PREFIX]", o.store)}
	}
	hosts, prefix, _ := strings.Cut(rest, "/")
	var endpoints []string
	for _, h := range strings.Split(hosts, ",") {
		if _, _, err := net.SplitHostPort(h); err != nil {
			return nil, usageError{fmt.Errorf("--store %q: %q is not HOST:PORT", o.store, h)}
		}
		endpoints = append(endpoints, "http://"+h)
	}
	if prefix != "" {
		prefix = "/" + strings.Trim(prefix, "/") + "/"
	}
	s, err := cas.OpenEtcd(ctx, endpoints, prefix, key)
	if err != nil && errors.Is(err, cas.ErrUnavailable) {
		return nil, withFix(exitIO, "check that the etcd cluster of --store runs and is reachable", err)
	}
	return s, err
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// casKeys are the store key, the identity key and, in an enclave, the
// CAS's own quote.
type casKeys struct {
	store        []byte
	identity     *ecdsa.PrivateKey
	identityPath string
	created      bool
	sealed       bool
	quote        []byte // a quote that binds the CAS ID (cas.SelfQuote)
	mrenclave    string
	simulation   bool // the quote is a simulation quote
}

// enclavePlatform is the enclave scone-cas may run in: Gramine's
// /dev/attestation, which scone-run serves (tests replace it).
type enclavePlatform interface {
	cas.Platform
	Available() bool
}

func (a *app) enclave() enclavePlatform {
	if a.platform != nil {
		return a.platform
	}
	return cas.DevAttestation{}
}

// keys reads the store key file and the identity key, or (--store-key
// sealed) derives the store key from the enclave's sealing key and opens
// the sealed identity key. In an enclave it gets the quote for GET /v1/id.
func (a *app) keys(o *serveOptions) (*casKeys, error) {
	k := &casKeys{}
	plainPath, sealedPath := filepath.Join(o.state, identityFile), filepath.Join(o.state, sealedIdentityFile)
	enc := a.enclave()
	switch {
	case o.storeKey == "sealed" && o.storeKeyFile != "":
		return nil, usageError{errors.New("--store-key sealed and --store-key-file exclude each other")}
	case o.storeKey == "sealed":
		if !enc.Available() {
			return nil, withFix(exitKey, "--store-key sealed needs the CAS to run in an enclave that serves /dev/attestation: the converted CAS image, run with SCONE_SIM_QUOTE_KEY_FILE in simulation mode (docs/cas.md, \"The CAS in an enclave\")",
				errors.New("opening the enclave's sealing key: no /dev/attestation (not in an enclave)"))
		}
		if exists(plainPath) {
			return nil, withFix(exitKey, "this state directory was made with --store-key-file: keep using it, or start a sealed CAS on a new --state",
				fmt.Errorf("opening identity key %q: the state has a plain identity key, not a sealed one", plainPath))
		}
		seal, err := enc.SealKey()
		if err != nil {
			return nil, withFix(exitKey, "the enclave's /dev/attestation/keys/_sgx_mrenclave must be readable", err)
		}
		sk, err := cas.DeriveSealedKeys(seal)
		clear(seal)
		if err != nil {
			return nil, withFix(exitKey, "", err)
		}
		defer clear(sk.Identity)
		rkeys, err := a.recoveryKeys(o)
		if err != nil {
			return nil, err
		}
		recPath := filepath.Join(o.state, cas.RecoveryFileName)
		k.store, k.sealed, k.identityPath = sk.Store, true, sealedPath
		if k.identity, k.created, err = cas.LoadOrCreateSealedIdentityKey(sealedPath, sk.Identity); err != nil {
			if errors.Is(err, cas.ErrIdentityKey) && exists(recPath) {
				return nil, readRecovery(recPath, err)
			}
			return nil, identityError(err, true)
		}
		if sealedStore := filepath.Join(o.state, sealedStoreKeyFile); exists(sealedStore) {
			clear(k.store)
			if k.store, err = cas.OpenSealedStoreKey(sealedStore, sk.Identity); err != nil {
				return nil, identityError(err, true)
			}
		}
		if err := a.writeRecovery(recPath, rkeys, o.recoveryThreshold, k); err != nil {
			return nil, err
		}
	case o.storeKey != "":
		return nil, usageError{fmt.Errorf("--store-key %q: the only value is sealed (or give --store-key-file)", o.storeKey)}
	case len(o.recoveryKeys) > 0 || o.recoveryThreshold != 0:
		return nil, usageError{errors.New("--recovery-key and --recovery-threshold protect a sealed state (--store-key sealed); with --store-key-file, back up the key file and identity.pem instead")}
	case o.storeKeyFile == "":
		return nil, usageError{errors.New("a store key is required: --store-key-file FILE, or --store-key sealed in an enclave")}
	default:
		if exists(sealedPath) && !exists(plainPath) {
			return nil, withFix(exitKey, "pass --store-key sealed and run the CAS in the enclave that made this state",
				fmt.Errorf("opening identity key in %q: the state's identity key is sealed to an enclave", o.state))
		}
		kb, err := readLimited(o.storeKeyFile, 1024)
		if err != nil {
			return nil, withFix(exitKey, "make a store key once and keep it: head -c 32 /dev/urandom > store.key; chmod 600 store.key", fmt.Errorf("reading store key %q: %w", o.storeKeyFile, err))
		}
		if k.store, err = cas.ParseStoreKey(kb); err != nil {
			return nil, withFix(exitKey, "a store key file holds 32 random bytes (head -c 32 /dev/urandom) or their 64 hex digits", fmt.Errorf("reading store key %q: %w", o.storeKeyFile, err))
		}
		if fi, err := os.Stat(o.storeKeyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
			a.logger().Warn("the store key file is readable by others: chmod 600 it", "file", o.storeKeyFile)
		}
		k.identityPath = plainPath
		if k.identity, k.created, err = cas.LoadOrCreateIdentityKey(plainPath); err != nil {
			return nil, identityError(err, false)
		}
	}
	// In an enclave (sealed, or a converted CAS with a key file): the quote
	// that binds the CAS ID, for GET /v1/id.
	if !enc.Available() {
		return k, nil
	}
	id, err := cas.KeyID(&k.identity.PublicKey)
	if err != nil {
		return nil, err
	}
	if k.quote, err = cas.SelfQuote(enc, id); err != nil {
		return nil, withFix(exitKey, "the enclave's /dev/attestation must give a quote (simulation mode: SCONE_SIM_QUOTE_KEY_FILE)", err)
	}
	q, err := attest.ParseQuote(k.quote) // SelfQuote parsed it
	if err != nil {
		return nil, err
	}
	k.mrenclave, k.simulation = hex.EncodeToString(q.Body.MRENCLAVE[:]), q.IsSimulation()
	return k, nil
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func identityError(err error, sealed bool) error {
	switch {
	case errors.Is(err, cas.ErrIdentityKey) && sealed:
		return withFix(exitKey, "the sealed identity key opens only in the enclave (MRENCLAVE) and on the platform that made it: run that CAS image there, or start on a new --state (a new CAS ID that every client and image must pin again)", err)
	case errors.Is(err, cas.ErrIdentityKey):
		return withFix(exitKey, "the state's identity.pem is damaged: restore it from a backup (a new key is a new CAS ID that every client must pin again)", err)
	}
	return withFix(exitIO, "--state must be a directory this user can write", err)
}
