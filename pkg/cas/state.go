package cas

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/scone-build/scone-build/pkg/policy"
)

// Buckets of the store (docs/cas.md, "State").
const (
	bucketCurrent     = "current"     // name -> currentRecord
	bucketVersions    = "versions"    // name/hash -> document
	bucketHistory     = "history"     // name -> the hashes of every version ever applied (kept after a delete)
	bucketSecrets     = "secrets"     // name -> map of secret name -> storedSecret
	bucketCA          = "ca"          // name -> storedCA
	bucketActivations = "activations" // name/hash -> u64 little-endian
)

// Errors of the policy state.
var (
	// ErrConflict: the request does not apply to the current version
	// (`previous` or the hash is not the current version's, the policy
	// exists already, or the version was applied before).
	ErrConflict = errors.New("not the current policy version")
	// ErrActivations: the policy's max_activations are used up.
	ErrActivations = errors.New("maximum activations reached")
	// errChanged: the policy changed during an attestation (try again).
	errChanged = errors.New("the policy changed during the attestation")
)

type currentRecord struct {
	Hash  string `json:"hash"`  // hex
	Owner string `json:"owner"` // key ID of the owner key, hex
}

func versionKey(name, hash string) string { return name + "/" + hash }

func hexHash(h [32]byte) string { return hex.EncodeToString(h[:]) }

func getJSON(tx Tx, bucket, key string, v any) error {
	b, err := tx.Get(bucket, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %s/%s: %v", ErrCorrupt, bucket, key, err)
	}
	return nil
}

func putJSON(tx Tx, bucket, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(bucket, key, b)
}

// current returns the current record of name, or nil.
func current(tx Tx, name string) (*currentRecord, error) {
	var c currentRecord
	err := getJSON(tx, bucketCurrent, name, &c)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func activations(tx Tx, name, hash string) (uint64, error) {
	b, err := tx.Get(bucketActivations, versionKey(name, hash))
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: activation counter of %s", ErrCorrupt, name)
	}
	return binary.LittleEndian.Uint64(b), nil
}

// generated reads a policy's generated secrets and CA.
func generated(tx Tx, name string) (map[string]storedSecret, *storedCA, error) {
	out := map[string]storedSecret{}
	if err := getJSON(tx, bucketSecrets, name, &out); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, nil, err
	}
	var ca storedCA
	err := getJSON(tx, bucketCA, name, &ca)
	if errors.Is(err, ErrNotFound) {
		return out, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return out, &ca, nil
}

// history returns the hashes of every version of name ever applied.
func history(tx Tx, name string) ([]string, error) {
	var h []string
	if err := getJSON(tx, bucketHistory, name, &h); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	return h, nil
}

// version is a parsed policy version, and what an attested enclave
// receives from it (rendered once per version).
type version struct {
	p    *policy.Policy
	hash [32]byte

	once      sync.Once
	secrets   []byte // the secrets message
	renderErr error
}

// versionCache keeps parsed versions by hash (a version never changes; its
// generated secrets change only with the version).
type versionCache struct {
	mu sync.Mutex
	m  map[[32]byte]*version
}

const maxCachedVersions = 1024

func (c *versionCache) get(h [32]byte) *version {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[h]
}

func (c *versionCache) put(v *version) *version {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[v.hash]; ok {
		return old
	}
	if len(c.m) >= maxCachedVersions {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[v.hash] = v
	return v
}

// drop forgets the versions of a policy (after it changed or was deleted).
func (c *versionCache) drop(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, v := range c.m {
		if v.p.Name == name {
			delete(c.m, k)
		}
	}
}

// loadVersion returns the parsed version name/hash from tx (or the cache).
func (s *Server) loadVersion(tx Tx, name, hash string) (*version, error) {
	hb, err := hex.DecodeString(hash)
	if err != nil || len(hb) != 32 {
		return nil, fmt.Errorf("%w: current version of %s", ErrCorrupt, name)
	}
	if v := s.versions.get([32]byte(hb)); v != nil {
		return v, nil
	}
	doc, err := tx.Get(bucketVersions, versionKey(name, hash))
	if err != nil {
		return nil, fmt.Errorf("%w: the current version of %s: %v", ErrCorrupt, name, err)
	}
	p, err := policy.Parse(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: the current version of %s: %v", ErrCorrupt, name, err)
	}
	if p.Hash() != [32]byte(hb) || p.Name != name {
		return nil, fmt.Errorf("%w: the current version of %s is not the document stored", ErrCorrupt, name)
	}
	return s.versions.put(&version{p: p, hash: p.Hash()}), nil
}

// rendered returns the secrets message of v, rendering it once.
func (s *Server) rendered(ctx context.Context, v *version) ([]byte, error) {
	v.once.Do(func() {
		var gen map[string]storedSecret
		var ca *storedCA
		err := s.store.View(ctx, func(tx Tx) error {
			var err error
			gen, ca, err = generated(tx, v.p.Name)
			return err
		})
		if err != nil {
			v.renderErr = err
			return
		}
		v.secrets, v.renderErr = render(v.p, &materials{p: v.p, gen: gen, ca: ca})
	})
	if v.renderErr != nil && (errors.Is(v.renderErr, ErrUnavailable) || errors.Is(v.renderErr, context.Canceled)) {
		s.versions.drop(v.p.Name) // transient: render again next time
	}
	return v.secrets, v.renderErr
}
