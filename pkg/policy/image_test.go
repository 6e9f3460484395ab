package policy

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

func TestForImage(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	der, _ := x509.MarshalPKIXPublicKey(pub)
	ownerPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	owner := "owner: |\n  " + strings.ReplaceAll(strings.TrimSpace(ownerPEM), "\n", "\n  ") + "\n"
	im := Image{Name: "web", Owner: pub, MRENCLAVE: [32]byte{1, 2, 3}, FSKey: [32]byte{0xaa, 0xbb}}
	updated := im
	updated.Previous = [32]byte{9}
	mre, key := hex.EncodeToString(im.MRENCLAVE[:]), hex.EncodeToString(im.FSKey[:])

	for _, tc := range []struct {
		name    string
		tmpl    string
		current bool
		im      Image
		want    []string // substrings of the result
		not     []string // not in the result
		err     string   // the error says this
	}{
		{name: "no template: a minimal policy", im: im,
			want: []string{"version: 1\n", "name: web\n", "owner: |\n  -----BEGIN PUBLIC KEY-----", "- mrenclave: [" + mre + "]",
				"fs_key: {kind: value, encoding: hex, value: " + key + "}", "grants:\n  fs_key: fs_key\n"},
			not: []string{"previous", "simulation"}},
		{name: "template: everything else kept, comments too", im: im,
			tmpl: "# the web tier\nversion: 1\nname: web\naccept:\n  simulation: true # sim mode for now\n" +
				"secrets:\n  pw: {kind: random, size: 16}\ngrants:\n  env: {PW: \"${pw:hex}\"}\n",
			want: []string{"# the web tier\n", "simulation: true # sim mode for now", "pw: {kind: random, size: 16}", "PW: \"${pw:hex}\"",
				"fs_key: fs_key", "- mrenclave: [" + mre + "]"}},
		{name: "template with an owner of its own (a new owner)", im: im, tmpl: owner + "name: web\n",
			want: []string{strings.Split(ownerPEM, "\n")[1], "version: 1\nowner: |\n"}},
		{name: "update: previous set", im: updated, tmpl: "name: web\nprevious: 00\n",
			want: []string{"previous: 09000000"}},
		{name: "current version: its key and enclaves replaced", im: updated, current: true,
			tmpl: "version: 1\nname: web\n" + owner + "previous: 01\nenclaves:\n  - mrenclave: [" + strings.Repeat("cd", 32) + "]\n" +
				"secrets:\n  fs_key: {kind: value, encoding: hex, value: " + strings.Repeat("ee", 32) + "}\ngrants:\n  fs_key: fs_key\n",
			want: []string{"- mrenclave: [" + mre + "]", "value: " + key, "previous: 09"},
			not:  []string{strings.Repeat("cd", 32), strings.Repeat("ee", 32)}},
		{name: "template names another policy", im: im, tmpl: "name: api\n", err: `names policy "api", not "web"`},
		{name: "template lists enclaves", im: im, tmpl: "enclaves:\n  - mrenclave: [" + mre + "]\n", err: "leave enclaves out"},
		{name: "template defines fs_key", im: im, tmpl: "secrets:\n  fs_key: {kind: random, size: 32}\n", err: "generates the FS key"},
		{name: "template grants fs_key", im: im, tmpl: "secrets:\n  k: {kind: random, size: 32}\ngrants:\n  fs_key: k\n", err: "generates the FS key"},
		{name: "template is not a mapping", im: im, tmpl: "- a\n- b\n", err: "not a YAML mapping"},
		{name: "template is two documents", im: im, tmpl: "name: web\n---\nname: web\n", err: "more than one YAML document"},
		{name: "template secrets not a mapping", im: im, tmpl: "secrets: [a]\n", err: "must be mappings"},
		{name: "template invalid as a policy", im: im, tmpl: "accept:\n  simulaton: true\n", err: "simulaton"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ForImage([]byte(tc.tmpl), tc.current, tc.im)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %v, want one saying %q and wrapping ErrInvalid\n%s", err, tc.err, out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(out)
			if err != nil {
				t.Fatalf("result does not parse: %v\n%s", err, out)
			}
			if len(p.Enclaves) != 1 || len(p.Enclaves[0].MRENCLAVE) != 1 || p.Grants.FSKey != FSKeySecret {
				t.Fatalf("enclaves %+v, fs_key grant %q\n%s", p.Enclaves, p.Grants.FSKey, out)
			}
			if b, _ := p.Secrets[FSKeySecret].Bytes(); !bytes.Equal(b, tc.im.FSKey[:]) {
				t.Fatalf("fs_key %x\n%s", b, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("result lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(string(out), n) {
					t.Errorf("result has %q:\n%s", n, out)
				}
			}
		})
	}
}
