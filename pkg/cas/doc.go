// Package cas is the configuration and attestation service (CAS) as a
// library: it keeps policies (pkg/policy) and the secrets they describe,
// attests enclaves and releases a policy's secrets to the enclaves it
// accepts, sealed to a key only the attested enclave holds (docs/cas.md).
//
// New returns a Server configured by functional options (store, identity
// key, simulation keys, collateral, logger, audit log, clock, nonces),
// validated once. Its Handler serves, over one TLS port (TLSConfig,
// Serve):
//
//   - the enclave protocol (pkg/casproto): a challenge nonce (single use,
//     60 s, from a bounded table), then an attest request whose quote
//     (pkg/attest: hardware quotes with the configured collateral through a
//     caching Verifier; simulation quotes against the configured simulation
//     keys) binds the nonce and a session key in REPORTDATA; the policy
//     must accept the enclave (Policy.Match), its activations are counted
//     atomically against max_activations, and the rendered grants are
//     sealed to the session key;
//   - the owner API (JSON): policies are created, replaced (naming the
//     current version's hash: no rollback, no lost update, no replay of
//     an old version even after a delete), read, listed, exported (only
//     secrets marked export) and deleted by their owner's signature.
//
// The state lives in a Store: BoltStore (one bbolt file), EtcdStore (an
// etcd cluster shared by CAS replicas; optimistic transactions checked by
// etcd) or MemoryStore (tests); the first two encrypt every value with
// AES-256-GCM under the store key, bound to its bucket and key. Random secrets and X.509 keys and
// certificates of a per-policy CA are generated when a version is applied,
// and kept across versions that describe them the same way.
//
// Every release, refusal and owner request is one JSON line of the audit
// log, which names policies, versions, enclaves and outcomes but never a
// secret. Client is the owner API's client (scone-build cas), pinned to
// the CAS ID: the SHA-256 of the identity key's SubjectPublicKeyInfo.
//
// A CAS that runs in an enclave (Platform: Gramine's /dev/attestation,
// DevAttestation, which scone-run serves) serves in GET /v1/id a quote
// that binds its CAS ID (SelfQuote, WithSelfQuote; clients check it with
// VerifySelfQuote), and may derive its store key and seal its identity key
// with the enclave's sealing key (DeriveSealedKeys,
// LoadOrCreateSealedIdentityKey).
//
// The package never prints, exits or panics; errors that callers act on
// wrap the sentinels ErrNotFound, ErrConflict, ErrActivations, ErrNonce,
// ErrBusy, ErrUnavailable, ErrCorrupt, ErrRequest, ErrConfig, ErrPin,
// ErrUnreachable, ErrOwnerKey, ErrIdentityKey, ErrSelfQuote,
// ErrSelfAttestation (and policy.ErrInvalid, policy.ErrSignature).
package cas
