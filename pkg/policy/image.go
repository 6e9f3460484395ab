package policy

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// FSKeySecret is the secret (and the grant) ForImage fills: the FS key the
// converter generated for the image.
const FSKeySecret = "fs_key"

// Image is what ForImage puts into a policy for one converted image.
type Image struct {
	Name      string   // the policy's name
	Owner     any      // the owner's public key (*ecdsa.PublicKey or ed25519.PublicKey): the owner of a new policy
	Previous  [32]byte // the hash of the version replaced; zero for a new policy
	MRENCLAVE [32]byte // the image's
	FSKey     [32]byte // the image's FS key
}

// TemplateError: the template has something ForImage fills itself, or is
// not a policy document. It wraps ErrInvalid.
type TemplateError struct{ Msg string }

func (e *TemplateError) Error() string { return "policy template: " + e.Msg }

func (e *TemplateError) Is(target error) bool { return target == ErrInvalid }

// ForImage renders the policy document that releases im's FS key to im's
// enclave, from tmpl: the owner's template (everything else the policy
// says: accept, secrets, grants), or the current version's document (its
// FS key and enclaves are replaced), or nil for a minimal policy.
//
// ForImage sets version (1 when absent), name (a template naming another
// policy is refused), owner (when absent: im.Owner), previous (removed for
// a new policy), enclaves (exactly im's MRENCLAVE: a template's must be
// absent or empty, a current version's is replaced), the secret fs_key (a
// 32-byte hex value) and the grant fs_key. A template (current false) that
// defines the secret or the grant fs_key is refused: the converter makes
// the key. The result is validated (Parse).
func ForImage(tmpl []byte, current bool, im Image) ([]byte, error) {
	var doc yaml.Node
	if len(bytes.TrimSpace(tmpl)) == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	} else {
		dec := yaml.NewDecoder(bytes.NewReader(tmpl))
		if err := dec.Decode(&doc); err != nil {
			return nil, &TemplateError{fmt.Sprintf("not YAML: %v", err)}
		}
		var extra yaml.Node
		if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
			return nil, &TemplateError{"more than one YAML document"}
		}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &TemplateError{"not a YAML mapping (a policy document, docs/cas.md)"}
	}
	root := doc.Content[0]
	if v := mapGet(root, "name"); v != nil && v.Value != im.Name {
		return nil, &TemplateError{fmt.Sprintf("names policy %q, not %q (--policy)", v.Value, im.Name)}
	}
	// version and name lead a document that lacks them
	if mapGet(root, "name") == nil {
		root.Content = append([]*yaml.Node{scalar("name"), scalar(im.Name)}, root.Content...)
	}
	if v := mapGet(root, "version"); v == nil {
		root.Content = append([]*yaml.Node{scalar("version"), scalar("1")}, root.Content...)
	}
	if mapGet(root, "owner") == nil {
		der, err := x509.MarshalPKIXPublicKey(im.Owner)
		if err != nil {
			return nil, &TemplateError{fmt.Sprintf("no owner, and the owner key: %v", err)}
		}
		n := scalar(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
		n.Style = yaml.LiteralStyle
		mapSet(root, "owner", n)
	}
	mapDelete(root, "previous")
	if im.Previous != ([32]byte{}) {
		// after the owner, where a person writes it
		at := len(root.Content)
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "owner" {
				at = i + 2
			}
		}
		prev := []*yaml.Node{scalar("previous"), scalar(hex.EncodeToString(im.Previous[:]))}
		root.Content = append(root.Content[:at], append(prev, root.Content[at:]...)...)
	}
	if e := mapGet(root, "enclaves"); e != nil && !current && len(e.Content) > 0 {
		return nil, &TemplateError{"lists enclaves: leave enclaves out, the converter fills in the image's MRENCLAVE"}
	}
	mre := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{scalar(hex.EncodeToString(im.MRENCLAVE[:]))}}
	entry := &yaml.Node{Kind: yaml.MappingNode}
	mapSet(entry, "mrenclave", mre)
	mapSet(root, "enclaves", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{entry}})

	secrets, grants := section(root, "secrets"), section(root, "grants")
	if secrets == nil || grants == nil {
		return nil, &TemplateError{"secrets and grants must be mappings (docs/cas.md)"}
	}
	if !current && (mapGet(secrets, FSKeySecret) != nil || mapGet(grants, "fs_key") != nil) {
		return nil, &TemplateError{"defines the secret or the grant fs_key: leave both out, the converter generates the FS key and fills them in"}
	}
	key := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	mapSet(key, "kind", scalar(KindValue))
	mapSet(key, "encoding", scalar("hex"))
	mapSet(key, "value", scalar(hex.EncodeToString(im.FSKey[:])))
	mapSet(secrets, FSKeySecret, key)
	mapSet(grants, "fs_key", scalar(FSKeySecret))

	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, &TemplateError{fmt.Sprintf("encoding: %v", err)}
	}
	if err := enc.Close(); err != nil {
		return nil, &TemplateError{fmt.Sprintf("encoding: %v", err)}
	}
	if _, err := Parse(out.Bytes()); err != nil {
		return nil, fmt.Errorf("checking the policy made from the template: %w", err)
	}
	return out.Bytes(), nil
}

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }

func mapGet(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func mapSet(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, scalar(key), v)
}

func mapDelete(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// section is the mapping under key, made when absent or null; nil when
// key holds something else.
func section(root *yaml.Node, key string) *yaml.Node {
	v := mapGet(root, key)
	switch {
	case v != nil && v.Kind == yaml.MappingNode:
		return v
	case v == nil || (v.Kind == yaml.ScalarNode && v.Tag == "!!null"):
		v = &yaml.Node{Kind: yaml.MappingNode}
		mapSet(root, key, v)
		return v
	}
	return nil
}
