package cas

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
)

// encodings are the ways a secret could appear in a text log.
func encodings(b []byte) []string {
	out := []string{string(b), hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b)}
	if j, err := json.Marshal(string(b)); err == nil {
		out = append(out, strings.Trim(string(j), `"`))
	}
	if blk, _ := pem.Decode(b); blk != nil { // a PEM key: its base64 lines
		for _, l := range strings.Split(string(b), "\n") {
			if len(l) >= 16 && !strings.HasPrefix(l, "-----") {
				out = append(out, l)
			}
		}
	}
	return out
}

// TestAuditNeverHasSecrets: after releases, exports, refusals and owner
// requests, neither the audit log nor the operational log contains any
// secret in any encoding; every release is in the audit log.
func TestAuditNeverHasSecrets(t *testing.T) {
	tc := newTestCAS(t)
	owner := genEd25519(t)
	doc := policyDoc(t, owner, "web", "", strings.Replace(fullGrants, "size: 16}", "size: 16, export: true}", 1))
	hash := tc.apply(t, owner, doc)
	var secrets [][]byte
	for i := 0; i < 3; i++ {
		_, m := tc.attest(t, tc.enclave(), "web")
		if m == nil {
			t.Fatal("not released")
		}
		secrets = append(secrets, m.FSKey)
		for _, v := range m.VolumeKeys {
			secrets = append(secrets, v.Key)
		}
		for _, e := range m.Env {
			if e.Name != "PRICE" {
				secrets = append(secrets, []byte(e.Value))
			}
		}
		for _, f := range m.Files {
			secrets = append(secrets, f.Content)
			if blk, _ := pem.Decode(f.Content); blk != nil && blk.Type == "PRIVATE KEY" {
				secrets = append(secrets, blk.Bytes)
			}
		}
	}
	ex, err := tc.owner.Export(context.Background(), "web", hash, owner)
	if err != nil || len(ex.Secrets["token"]) != 16 {
		t.Fatalf("export: %v %v", ex, err)
	}
	secrets = append(secrets, ex.Secrets["token"], []byte("s3cr$t-pw"), []byte{0, 1, 2, 3})
	// Refusals and failures too.
	e := tc.enclave()
	e.body.MRENCLAVE[0] ^= 1
	tc.attest(t, e, "web")
	tc.owner.Read(context.Background(), "web", genEd25519(t))
	audit, logs := tc.audit.String(), tc.logs.String()
	if n := strings.Count(audit, `"outcome":"released"`); n != 3 {
		t.Errorf("%d releases in the audit log, want 3", n)
	}
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		for _, enc := range encodings(s) {
			if strings.Contains(audit, enc) {
				t.Errorf("the audit log contains a secret (%.20q...)", enc)
			}
			if strings.Contains(logs, enc) {
				t.Errorf("the log contains a secret (%.20q...)", enc)
			}
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(audit), "\n") {
		var ev AuditEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Event == "" || ev.Outcome == "" || ev.Time.IsZero() {
			t.Errorf("audit line %q: %v", l, err)
		}
	}
}
