package cas

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"sort"
	"time"

	"github.com/scone-build/scone-build/pkg/casproto"
	"github.com/scone-build/scone-build/pkg/policy"
)

// storedSecret is a secret the CAS generated for a policy. Spec is the
// fingerprint of the policy's description of it: a version that describes
// it differently (another size, another certificate) gets a new one; a
// version that describes it the same keeps it (an FS key must survive
// policy updates).
type storedSecret struct {
	Spec  string `json:"spec"`
	Bytes []byte `json:"bytes,omitempty"`
	Cert  []byte `json:"cert,omitempty"` // PEM
	Key   []byte `json:"key,omitempty"`  // PEM PKCS #8
}

// storedCA is a policy's CA (made when a version first has x509 secrets).
type storedCA struct {
	Cert []byte `json:"cert"` // PEM
	Key  []byte `json:"key"`  // PEM PKCS #8
}

func specFingerprint(s policy.Secret) string {
	b, _ := json.Marshal(struct {
		Kind string
		Size int
		X509 *policy.X509Spec
	}{s.Kind, s.Size, s.X509})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// generate returns the generated secrets of p: those of old whose
// description is unchanged, new ones for the rest; and the policy's CA
// (ca, or a new one when p has x509 secrets and there is none yet).
func generate(p *policy.Policy, old map[string]storedSecret, ca *storedCA, now time.Time) (map[string]storedSecret, *storedCA, error) {
	out := map[string]storedSecret{}
	names := make([]string, 0, len(p.Secrets))
	for n := range p.Secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := p.Secrets[n]
		if s.Kind == policy.KindValue {
			continue
		}
		fp := specFingerprint(s)
		if o, ok := old[n]; ok && o.Spec == fp {
			out[n] = o
			continue
		}
		switch s.Kind {
		case policy.KindRandom:
			b := make([]byte, s.Size)
			if _, err := rand.Read(b); err != nil {
				return nil, nil, err
			}
			out[n] = storedSecret{Spec: fp, Bytes: b}
		case policy.KindX509:
			if ca == nil {
				var err error
				if ca, err = newCA(p.Name, now); err != nil {
					return nil, nil, err
				}
			}
			cert, key, err := issue(ca, s.X509, now)
			if err != nil {
				return nil, nil, fmt.Errorf("issuing certificate for secret %q: %w", n, err)
			}
			out[n] = storedSecret{Spec: fp, Cert: cert, Key: key}
		}
	}
	return out, ca, nil
}

func pemKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func newCA(name string, now time.Time) (*storedCA, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "scone-cas CA of policy " + name},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return nil, fmt.Errorf("making the CA of policy %q: %w", name, err)
	}
	kp, err := pemKey(k)
	if err != nil {
		return nil, err
	}
	return &storedCA{Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Key: kp}, nil
}

func parseCA(ca *storedCA) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, _ := pem.Decode(ca.Cert)
	kb, _ := pem.Decode(ca.Key)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("%w: the policy CA is not PEM", ErrCorrupt)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the policy CA: %v", ErrCorrupt, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the policy CA key: %v", ErrCorrupt, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%w: the policy CA key is a %T", ErrCorrupt, k)
	}
	return cert, ek, nil
}

// issue makes a key and a certificate of the policy CA for spec.
func issue(ca *storedCA, spec *policy.X509Spec, now time.Time) (certPEM, keyPEM []byte, err error) {
	caCert, caKey, err := parseCA(ca)
	if err != nil {
		return nil, nil, err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	days := spec.ValidityDays
	if days == 0 {
		days = 365
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: spec.CommonName},
		DNSNames:     spec.DNSNames,
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.AddDate(0, 0, days),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, ip := range spec.IPAddresses {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	kp, err := pemKey(k)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), kp, nil
}

// materials resolves a policy's secrets for templates (policy.Materials).
type materials struct {
	p   *policy.Policy
	gen map[string]storedSecret
	ca  *storedCA
}

func (m *materials) Secret(name string) (policy.Material, error) {
	s, ok := m.p.Secrets[name]
	if !ok {
		return policy.Material{}, fmt.Errorf("no secret %q", name)
	}
	if s.Kind == policy.KindValue {
		b, err := s.Bytes()
		return policy.Material{Bytes: b}, err
	}
	g, ok := m.gen[name]
	if !ok {
		return policy.Material{}, fmt.Errorf("%w: secret %q was not generated", ErrCorrupt, name)
	}
	return policy.Material{Bytes: g.Bytes, Cert: g.Cert, Key: g.Key}, nil
}

func (m *materials) CA() ([]byte, error) {
	if m.ca == nil {
		return nil, fmt.Errorf("%w: the policy has no CA", ErrCorrupt)
	}
	return m.ca.Cert, nil
}

// render fills the grants into a secrets message.
func render(p *policy.Policy, m *materials) ([]byte, error) {
	out := &casproto.Secrets{}
	g := p.Grants
	key := func(name string) ([]byte, error) {
		mat, err := m.Secret(name)
		if err != nil {
			return nil, err
		}
		if len(mat.Bytes) != casproto.KeySize {
			return nil, fmt.Errorf("secret %q has %d bytes, a key has %d", name, len(mat.Bytes), casproto.KeySize)
		}
		return mat.Bytes, nil
	}
	if g.FSKey != "" {
		k, err := key(g.FSKey)
		if err != nil {
			return nil, fmt.Errorf("grants.fs_key: %w", err)
		}
		out.FSKey = k
	}
	for path, name := range g.VolumeKeys {
		k, err := key(name)
		if err != nil {
			return nil, fmt.Errorf("grants.volume_keys.%s: %w", path, err)
		}
		out.VolumeKeys = append(out.VolumeKeys, casproto.VolumeKey{Path: path, Key: k})
	}
	for path, vol := range p.Volumes {
		f := casproto.VolumeFreshness{Path: path, Mode: casproto.FreshnessEveryFsync, AllowReinit: vol.AllowReinit}
		if vol.Freshness == policy.FreshnessInterval {
			f.Mode, f.IntervalMS = casproto.FreshnessInterval, vol.IntervalMS
		}
		out.Freshness = append(out.Freshness, f)
	}
	for name, t := range g.Env {
		v, err := policy.Render(t, m)
		if err != nil {
			return nil, fmt.Errorf("grants.env.%s: %w", name, err)
		}
		out.Env = append(out.Env, casproto.EnvVar{Name: name, Value: string(v)})
	}
	if g.Args != nil {
		out.ArgsSet = true
		for i, t := range g.Args {
			v, err := policy.Render(t, m)
			if err != nil {
				return nil, fmt.Errorf("grants.args[%d]: %w", i, err)
			}
			out.Args = append(out.Args, string(v))
		}
	}
	for path, f := range g.Files {
		v, err := policy.Render(f.Content, m)
		if err != nil {
			return nil, fmt.Errorf("grants.files.%s: %w", path, err)
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o400
		}
		out.Files = append(out.Files, casproto.File{Path: path, Mode: mode, Content: v})
	}
	b, err := out.MarshalBinary()
	if err != nil { // its messages name paths and variables, never values
		return nil, fmt.Errorf("the policy's grants do not fit the secrets message: %w", err)
	}
	return b, nil
}

// exportable returns the secrets the policy marks export: the bytes of
// random and value secrets; for x509 secrets the PEM private key followed
// by the PEM certificate.
func exportable(p *policy.Policy, m *materials) (map[string][]byte, error) {
	out := map[string][]byte{}
	for name, s := range p.Secrets {
		if !s.Export {
			continue
		}
		mat, err := m.Secret(name)
		if err != nil {
			return nil, err
		}
		if s.Kind == policy.KindX509 {
			out[name] = append(append([]byte(nil), mat.Key...), mat.Cert...)
		} else {
			out[name] = mat.Bytes
		}
	}
	return out, nil
}
