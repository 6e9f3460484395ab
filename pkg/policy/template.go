package policy

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Templates (docs/cas.md): literal text in which ${NAME} is the secret
// NAME, ${NAME:FORM} a form of it, and $$ a '$'. Forms: hex and base64
// (random and value secrets), cert, key and ca (PEM of an x509 secret's
// certificate, private key, and the policy CA's certificate). Any other
// '$' is an error, so that a mistyped reference never passes as text.

// ref is one ${...} of a template.
type ref struct {
	name, form string
}

// piece is literal text or a reference.
type piece struct {
	text string
	ref  *ref
}

func parseTemplate(s string) ([]piece, error) {
	var out []piece
	var lit strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			lit.WriteByte(c)
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			lit.WriteByte('$')
			i += 2
			continue
		}
		if i+1 >= len(s) || s[i+1] != '{' {
			return nil, fmt.Errorf("a '$' at offset %d: write $$ for a dollar sign, ${NAME} for a secret", i)
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("${ at offset %d is not closed", i)
		}
		body := s[i+2 : i+end]
		name, form, _ := strings.Cut(body, ":")
		if !secretRE.MatchString(name) {
			return nil, fmt.Errorf("${%s}: %q is not a secret name", body, name)
		}
		if lit.Len() > 0 {
			out = append(out, piece{text: lit.String()})
			lit.Reset()
		}
		out = append(out, piece{ref: &ref{name, form}})
		i += end + 1
	}
	if lit.Len() > 0 {
		out = append(out, piece{text: lit.String()})
	}
	return out, nil
}

var forms = map[string]map[string]bool{
	KindRandom: {"": true, "hex": true, "base64": true},
	KindValue:  {"": true, "hex": true, "base64": true},
	KindX509:   {"cert": true, "key": true, "ca": true},
}

// checkTemplate: every reference names a secret in a form its kind has;
// text (env, args) must render to UTF-8 without NUL, so binary secrets
// need :hex or :base64 there.
func (p *Policy) checkTemplate(field, s string, text bool) error {
	pieces, err := parseTemplate(s)
	if err != nil {
		return invalid(field, "%v", err)
	}
	if text && strings.IndexByte(s, 0) >= 0 {
		return invalid(field, "contains a NUL byte")
	}
	for _, pc := range pieces {
		if pc.ref == nil {
			continue
		}
		r := pc.ref
		sec, ok := p.Secrets[r.name]
		if !ok {
			return invalid(field, "${%s}: no secret %q in secrets", refString(r), r.name)
		}
		if !forms[sec.Kind][r.form] {
			return invalid(field, "${%s}: secrets of kind %s have no form %q (%s)", refString(r), sec.Kind, r.form, formList(sec.Kind))
		}
		if text && r.form == "" {
			switch sec.Kind {
			case KindRandom:
				return invalid(field, "${%s}: random bytes are binary: use ${%s:hex} or ${%s:base64} here", r.name, r.name, r.name)
			case KindValue:
				b, _ := sec.Bytes()
				if !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
					return invalid(field, "${%s}: the value is not text without NUL: use ${%s:hex} or ${%s:base64} here", r.name, r.name, r.name)
				}
			}
		}
	}
	return nil
}

func formList(kind string) string {
	switch kind {
	case KindX509:
		return "cert, key, ca"
	}
	return "none, hex, base64"
}

func refString(r *ref) string {
	if r.form == "" {
		return r.name
	}
	return r.name + ":" + r.form
}

// Material is what the CAS holds for one secret.
type Material struct {
	Bytes []byte // random and value secrets
	Cert  []byte // x509: PEM certificate
	Key   []byte // x509: PEM private key
}

// Materials resolves a secret name (the CAS's store) and the policy CA's
// certificate (PEM).
type Materials interface {
	Secret(name string) (Material, error)
	CA() ([]byte, error)
}

// ErrRender is wrapped by errors of Render.
var ErrRender = errors.New("rendering policy template")

// Render fills a template checked by Parse with the secrets.
func Render(s string, m Materials) ([]byte, error) {
	pieces, err := parseTemplate(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRender, err)
	}
	var out bytes.Buffer
	for _, pc := range pieces {
		if pc.ref == nil {
			out.WriteString(pc.text)
			continue
		}
		r := pc.ref
		if r.form == "ca" {
			ca, err := m.CA()
			if err != nil {
				return nil, fmt.Errorf("%w: the policy CA: %v", ErrRender, err)
			}
			out.Write(ca)
			continue
		}
		mat, err := m.Secret(r.name)
		if err != nil {
			return nil, fmt.Errorf("%w: secret %q: %v", ErrRender, r.name, err)
		}
		switch r.form {
		case "":
			out.Write(mat.Bytes)
		case "hex":
			out.WriteString(hex.EncodeToString(mat.Bytes))
		case "base64":
			out.WriteString(base64.StdEncoding.EncodeToString(mat.Bytes))
		case "cert":
			out.Write(mat.Cert)
		case "key":
			out.Write(mat.Key)
		default:
			return nil, fmt.Errorf("%w: unknown form %q", ErrRender, r.form)
		}
	}
	return out.Bytes(), nil
}

func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("encoding base64: not standard base64")
	}
	return b, nil
}
