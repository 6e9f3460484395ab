package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/attest"
	"github.com/scone-build/scone-build/pkg/cas"
	"github.com/scone-build/scone-build/pkg/version"
)

// Files of the state directory.
const (
	identityFile = "identity.pem"
	storeFile    = "cas.db"
	auditFile    = "audit.log"
)

type serveOptions struct {
	listen         string
	state          string
	store          string
	storeKeyFile   string
	simulationKeys []string
	collaterals    []string
	auditLog       string
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
	f.StringArrayVar(&o.simulationKeys, "simulation-key", nil, "accept simulation quotes signed by this ECDSA P-256 public key (PEM; repeatable)")
	f.StringArrayVar(&o.collaterals, "collateral", nil, "verify hardware quotes with this collateral JSON (repeatable: one per platform type)")
	f.StringVar(&o.auditLog, "audit-log", "", "append the audit log to this file (default STATE/audit.log)")
	cmd.MarkFlagRequired("state")
	cmd.MarkFlagRequired("store-key-file")
	return cmd
}

func (a *app) serve(cmd *cobra.Command, o *serveOptions) error {
	log := a.logger()
	opts := []cas.Option{cas.WithLogger(log), cas.WithVersion(version.String())}
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
	kb, err := readLimited(o.storeKeyFile, 1024)
	if err != nil {
		return withFix(exitKey, "make a store key once and keep it: head -c 32 /dev/urandom > store.key; chmod 600 store.key", fmt.Errorf("reading store key %q: %w", o.storeKeyFile, err))
	}
	storeKey, err := cas.ParseStoreKey(kb)
	if err != nil {
		return withFix(exitKey, "a store key file holds 32 random bytes (head -c 32 /dev/urandom) or their 64 hex digits", fmt.Errorf("reading store key %q: %w", o.storeKeyFile, err))
	}
	if fi, err := os.Stat(o.storeKeyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the store key file is readable by others: chmod 600 it", "file", o.storeKeyFile)
	}
	if err := os.MkdirAll(o.state, 0o700); err != nil {
		return withFix(exitIO, "--state must be a directory this user can create and write", fmt.Errorf("creating state directory: %w", err))
	}
	key, created, err := cas.LoadOrCreateIdentityKey(filepath.Join(o.state, identityFile))
	if err != nil {
		if errors.Is(err, cas.ErrIdentityKey) {
			return withFix(exitKey, "the state's identity.pem is damaged: restore it from a backup (a new key is a new CAS ID that every client must pin again)", err)
		}
		return withFix(exitIO, "--state must be a directory this user can write", err)
	}
	store, err := openStore(cmd.Context(), o, storeKey)
	if err != nil {
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
		log.Info("made a new identity key: clients pin its CAS ID", "file", filepath.Join(o.state, identityFile))
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
