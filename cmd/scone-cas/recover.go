package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/scone-build/scone-build/pkg/cas"
)

// recoveryNeeded: the sealed state does not open here, and its recovery
// data exists: the CAS starts in recovery mode.
type recoveryNeeded struct {
	file  *cas.RecoveryFile
	cause error
}

func (r *recoveryNeeded) Error() string {
	return fmt.Sprintf("the sealed state does not open in this enclave (%v): recovery needed", r.cause)
}

// errStopped: the CAS was stopped in recovery mode.
var errStopped = errors.New("stopped in recovery mode")

func readRecovery(path string, cause error) error {
	b, err := readLimited(path, 1<<20)
	if err == nil {
		var f *cas.RecoveryFile
		if f, err = cas.ParseRecoveryFile(b); err == nil {
			return &recoveryNeeded{file: f, cause: cause}
		}
	}
	return withFix(exitKey, "the sealed state does not open in this enclave and its recovery data is unreadable: restore recovery.json from a backup, or run the CAS enclave that made the state",
		fmt.Errorf("reading recovery data %q: %w", path, err))
}

// recoveryKeys reads --recovery-key files and checks --recovery-threshold.
func (a *app) recoveryKeys(o *serveOptions) ([]*cas.RecoveryPublicKey, error) {
	if len(o.recoveryKeys) == 0 {
		if o.recoveryThreshold != 0 {
			return nil, usageError{errors.New("--recovery-threshold without --recovery-key")}
		}
		return nil, nil
	}
	if o.recoveryThreshold == 0 {
		o.recoveryThreshold = len(o.recoveryKeys)
	}
	if o.recoveryThreshold < 1 || o.recoveryThreshold > len(o.recoveryKeys) {
		return nil, usageError{fmt.Errorf("--recovery-threshold %d with %d --recovery-key: want 1 to %d", o.recoveryThreshold, len(o.recoveryKeys), len(o.recoveryKeys))}
	}
	var keys []*cas.RecoveryPublicKey
	for _, p := range o.recoveryKeys {
		b, err := readLimited(p, 64<<10)
		if err == nil {
			var k *cas.RecoveryPublicKey
			if k, err = cas.ParseRecoveryPublicKey(b); err == nil {
				keys = append(keys, k)
				continue
			}
		}
		return nil, withFix(exitKey, "--recovery-key names a PEM public key of P-256 or X25519 (openssl genpkey -algorithm x25519 -out owner.pem; openssl pkey -in owner.pem -pubout)",
			fmt.Errorf("reading recovery key %q: %w", p, err))
	}
	return keys, nil
}

// writeRecovery writes the recovery data when the owners' keys are given
// and the file is missing or was made for other keys.
func (a *app) writeRecovery(path string, keys []*cas.RecoveryPublicKey, threshold int, k *casKeys) error {
	if len(keys) == 0 {
		if exists(path) {
			a.logger().Warn("the state has recovery data, but no --recovery-key was given: it is kept as it is", "file", path)
		}
		return nil
	}
	id, err := cas.KeyID(&k.identity.PublicKey)
	if err != nil {
		return err
	}
	if b, err := readLimited(path, 1<<20); err == nil {
		if f, err := cas.ParseRecoveryFile(b); err == nil && f.For(keys, threshold, id) {
			return nil
		}
	}
	f, err := cas.NewRecoveryFile(&cas.RecoveredState{StoreKey: k.store, Identity: k.identity}, keys, threshold)
	if err == nil {
		var b []byte
		if b, err = f.Marshal(); err == nil {
			err = writeReplace(path, b)
		}
	}
	if err != nil {
		return withFix(exitIO, "--state must be a directory this user can write", fmt.Errorf("writing recovery data %q: %w", path, err))
	}
	a.logger().Info("wrote recovery data: the owners' recovery keys can recover this state on another CAS version or platform", "file", path, "owners", len(keys), "threshold", threshold)
	return nil
}

func writeReplace(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// recover serves the recovery of f on --listen until the owners' shares
// recover the state, then seals it to this enclave.
func (a *app) recover(ctx context.Context, o *serveOptions, f *cas.RecoveryFile) error {
	log := a.logger()
	enc := a.enclave()
	rs, err := cas.NewRecoveryServer(f, enc, log)
	if err != nil {
		return withFix(exitKey, "the enclave's /dev/attestation must give a quote (simulation mode: SCONE_SIM_QUOTE_KEY_FILE)", err)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return withFix(exitIO, "choose a free address for --listen (HOST:PORT)", fmt.Errorf("listening on %s: %w", o.listen, err))
	}
	log.Warn("RECOVERY MODE: the sealed state does not open in this enclave (another CAS version or platform); waiting for the owners' shares (scone-build cas recover)",
		"addr", ln.Addr().String(), "cas_id", f.CASID, "threshold", f.Threshold, "owners", len(f.Shares), "recovery_key_id", rs.ID().String())
	if a.listening != nil {
		a.listening(ln.Addr())
	}
	st, err := rs.Serve(ctx, ln)
	if err != nil {
		return withFix(exitIO, "", fmt.Errorf("serving the recovery: %w", err))
	}
	if st == nil {
		return errStopped // SIGINT/SIGTERM before the owners recovered it
	}
	// the CAS serves where the recovery was served (the same port when
	// --listen asked for any)
	o.listen = ln.Addr().String()
	seal, err := enc.SealKey()
	if err != nil {
		return withFix(exitKey, "the enclave's /dev/attestation/keys/_sgx_mrenclave must be readable", err)
	}
	sk, err := cas.DeriveSealedKeys(seal)
	clear(seal)
	if err != nil {
		return withFix(exitKey, "", err)
	}
	defer sk.Wipe()
	err = cas.SealRecovered(filepath.Join(o.state, sealedIdentityFile), filepath.Join(o.state, sealedStoreKeyFile), sk.Identity, st)
	clear(st.StoreKey)
	if err != nil {
		return withFix(exitIO, "--state must be a directory this user can write", err)
	}
	log.Info("recovered: the state is sealed to this enclave now", "cas_id", f.CASID)
	return nil
}
