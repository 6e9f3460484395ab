package casproto

import (
	"bufio"
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/cryptotest"

	"github.com/scone-build/scone-build/pkg/attest"
)

var update = flag.Bool("update", false, "rewrite the test vectors in testdata/casproto")

const vectorDir = "../../testdata/casproto"

// The vector files (testdata/casproto/README.md describes them): lines
// "key: value", '#' comments, entries separated by blank lines.

type entry struct {
	keys []string
	vals map[string][]string
}

func (e *entry) add(k, v string) {
	if e.vals == nil {
		e.vals = map[string][]string{}
	}
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = append(e.vals[k], v)
}

func (e *entry) hex(k string, b []byte) { e.add(k, hex.EncodeToString(b)) }

func (e *entry) str(t *testing.T, k string) string {
	t.Helper()
	v, ok := e.vals[k]
	if !ok || len(v) != 1 {
		t.Fatalf("entry %q: want one %q", e.name(), k)
	}
	return v[0]
}

func (e *entry) bin(t *testing.T, k string) []byte {
	t.Helper()
	b, err := hex.DecodeString(e.str(t, k))
	if err != nil {
		t.Fatalf("entry %q: %s: %v", e.name(), k, err)
	}
	return b
}

func (e *entry) num(t *testing.T, k string) int {
	t.Helper()
	n, err := strconv.Atoi(e.str(t, k))
	if err != nil {
		t.Fatalf("entry %q: %s: %v", e.name(), k, err)
	}
	return n
}

func (e *entry) name() string {
	if v := e.vals["name"]; len(v) > 0 {
		return v[0]
	}
	return "?"
}

func writeVectors(t *testing.T, file, header string, entries []*entry) {
	t.Helper()
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(header), "\n") {
		fmt.Fprintf(&b, "# %s\n", l)
	}
	for _, e := range entries {
		b.WriteString("\n")
		for _, k := range e.keys {
			for _, v := range e.vals[k] {
				fmt.Fprintf(&b, "%s: %s\n", k, v)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(vectorDir, file), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readVectors(t *testing.T, file string) []*entry {
	t.Helper()
	f, err := os.Open(filepath.Join(vectorDir, file))
	if err != nil {
		t.Fatalf("%v (go test ./pkg/casproto -run TestVectors -update writes the vectors)", err)
	}
	defer f.Close()
	var out []*entry
	var cur *entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.TrimSpace(line) == "" {
			cur = nil
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			if strings.HasSuffix(line, ":") { // an empty value
				k, v, ok = strings.TrimSuffix(line, ":"), "", true
			} else {
				t.Fatalf("%s: line %q is not key: value", file, line)
			}
		}
		if cur == nil {
			cur = &entry{}
			out = append(out, cur)
		}
		cur.add(k, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no entries", file)
	}
	return out
}

// fixedScalar is a deterministic P-256 private scalar for a label.
func fixedScalar(label string) []byte {
	h := sha256.Sum256([]byte("scone-cas test vector: " + label))
	return h[:]
}

func fixedECDH(t *testing.T, label string) *ecdh.PrivateKey {
	k, err := ecdh.P256().NewPrivateKey(fixedScalar(label))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func fixed32(label string) [32]byte { return sha256.Sum256([]byte("scone-cas test vector: " + label)) }

func seq(start, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(start + i)
	}
	return b
}

// vectorSecrets are the secrets of the released vectors: every record kind.
func vectorSecrets() []*Secrets {
	return []*Secrets{
		{
			FSKey:      seq(0, 32),
			VolumeKeys: []VolumeKey{{Path: "/data", Key: seq(0x20, 32)}, {Path: "/var/lib/db", Key: seq(0x40, 32)}},
			Env:        []EnvVar{{"API_TOKEN", "000102030405"}, {"DB_PASSWORD", "s3cr$t-pw"}, {"LANG", "C.UTF-8"}},
			ArgsSet:    true,
			Args:       []string{"--config", "/etc/app/app.conf", ""},
			Files: []File{
				{Path: "/etc/app/app.conf", Mode: 0o400, Content: []byte("password = s3cr$t-pw\n")},
				{Path: "/etc/tls/blob.bin", Mode: 0o444, Content: []byte{0, 1, 0xfe, 0xff, 0}},
			},
			Freshness: []VolumeFreshness{
				{Path: "/data", Mode: FreshnessEveryFsync, AllowReinit: true},
				{Path: "/var/lib/db", Mode: FreshnessInterval, IntervalMS: 250},
			},
		},
		{ArgsSet: true}, // the policy grants no arguments: argv[1:] becomes empty
		{},              // the policy grants nothing
	}
}

func secretsLines(e *entry, m *Secrets) {
	if m.FSKey != nil {
		e.hex("fs_key", m.FSKey)
	}
	for _, v := range m.VolumeKeys {
		e.add("volume_key", v.Path+" "+hex.EncodeToString(v.Key))
	}
	for _, v := range m.Env {
		e.add("env", v.Name+"="+v.Value)
	}
	if m.ArgsSet {
		e.add("args_set", "1")
	}
	for _, a := range m.Args {
		e.add("arg", a)
	}
	for _, f := range m.Files {
		e.add("file", fmt.Sprintf("%04o %s %s", f.Mode, f.Path, hex.EncodeToString(f.Content)))
	}
	for _, f := range m.Freshness {
		e.add("volume_freshness", fmt.Sprintf("%s %d %d %t", f.Path, f.Mode, f.IntervalMS, f.AllowReinit))
	}
}

func secretsFromLines(t *testing.T, e *entry) *Secrets {
	m := &Secrets{}
	if _, ok := e.vals["fs_key"]; ok {
		m.FSKey = e.bin(t, "fs_key")
	}
	for _, v := range e.vals["volume_key"] {
		p, k, _ := strings.Cut(v, " ")
		kb, err := hex.DecodeString(k)
		if err != nil {
			t.Fatal(err)
		}
		m.VolumeKeys = append(m.VolumeKeys, VolumeKey{p, kb})
	}
	for _, v := range e.vals["env"] {
		n, val, _ := strings.Cut(v, "=")
		m.Env = append(m.Env, EnvVar{n, val})
	}
	m.ArgsSet = len(e.vals["args_set"]) > 0
	m.Args = append(m.Args, e.vals["arg"]...)
	for _, v := range e.vals["file"] {
		parts := strings.SplitN(v, " ", 3)
		mode, _ := strconv.ParseUint(parts[0], 8, 32)
		c, err := hex.DecodeString(parts[2])
		if err != nil {
			t.Fatal(err)
		}
		m.Files = append(m.Files, File{Path: parts[1], Mode: uint32(mode), Content: c})
	}
	for _, v := range e.vals["volume_freshness"] {
		var f VolumeFreshness
		if _, err := fmt.Sscanf(v, "%s %d %d %t", &f.Path, &f.Mode, &f.IntervalMS, &f.AllowReinit); err != nil {
			t.Fatalf("volume_freshness %q: %v", v, err)
		}
		m.Freshness = append(m.Freshness, f)
	}
	return m
}

func TestVectors(t *testing.T) {
	if *update {
		generateVectors(t)
	}
	t.Run("attest-request", func(t *testing.T) {
		for _, e := range readVectors(t, "attest-request.txt") {
			checkRequestVector(t, e)
		}
	})
	t.Run("attest-response-released", func(t *testing.T) {
		for _, e := range readVectors(t, "attest-response-released.txt") {
			checkReleasedVector(t, e)
		}
	})
	t.Run("attest-response-refused", func(t *testing.T) {
		for _, e := range readVectors(t, "attest-response-refused.txt") {
			msg := e.bin(t, "message")
			r, err := ParseAttestResponse(msg)
			if err != nil {
				t.Fatalf("%s: %v", e.name(), err)
			}
			want := &AttestResponse{Status: Status(e.num(t, "status")), Reason: e.str(t, "reason"), Simulation: e.num(t, "simulation") == 1}
			if !reflect.DeepEqual(r, want) {
				t.Errorf("%s: decoded %+v, want %+v", e.name(), r, want)
			}
			if b, err := want.MarshalBinary(); err != nil || !bytes.Equal(b, msg) {
				t.Errorf("%s: encoding the fields does not give the message (%v)", e.name(), err)
			}
		}
	})
	t.Run("open-must-fail", func(t *testing.T) {
		for _, e := range readVectors(t, "open-must-fail.txt") {
			d, err := ecdh.P256().NewPrivateKey(e.bin(t, "session_private"))
			if err != nil {
				t.Fatal(err)
			}
			E, err := ecdh.P256().NewPublicKey(e.bin(t, "cas_ephemeral_public"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(d, E, [32]byte(e.bin(t, "nonce")), [32]byte(e.bin(t, "policy_hash")), e.bin(t, "sealed"))
			if !errors.Is(err, ErrOpen) {
				t.Errorf("%s: Open = %v, want ErrOpen", e.name(), err)
			}
		}
	})
	t.Run("must-fail", func(t *testing.T) {
		for _, e := range readVectors(t, "must-fail.txt") {
			msg := e.bin(t, "message")
			var err error
			switch e.num(t, "type") {
			case int(TypeAttestRequest):
				_, err = ParseAttestRequest(msg)
			case int(TypeAttestResponse):
				_, err = ParseAttestResponse(msg)
			case int(TypeSecrets):
				_, err = ParseSecrets(msg)
			default:
				t.Fatalf("%s: type %d", e.name(), e.num(t, "type"))
			}
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) {
				t.Errorf("%s: err = %v, want a *FormatError", e.name(), err)
				continue
			}
			if fe.Offset != e.num(t, "offset") {
				t.Errorf("%s: offset %d, the vector says %d (%v)", e.name(), fe.Offset, e.num(t, "offset"), err)
			}
		}
	})
}

func checkRequestVector(t *testing.T, e *entry) {
	t.Helper()
	d, err := ecdh.P256().NewPrivateKey(e.bin(t, "session_private"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.PublicKey().Bytes(), e.bin(t, "session_public")) {
		t.Errorf("%s: session_public is not the public key of session_private", e.name())
	}
	nonce := [32]byte(e.bin(t, "nonce"))
	sk := [65]byte(e.bin(t, "session_public"))
	rd := ReportData(nonce, sk)
	if !bytes.Equal(rd[:], e.bin(t, "report_data")) {
		t.Errorf("%s: ReportData = %x, the vector says %s", e.name(), rd, e.str(t, "report_data"))
	}
	want := &AttestRequest{Policy: e.str(t, "policy"), Nonce: nonce, SessionKey: sk, Quote: e.bin(t, "quote")}
	if v, ok := e.vals["client"]; ok {
		want.Client = v[0]
	}
	msg := e.bin(t, "message")
	got, err := ParseAttestRequest(msg)
	if err != nil {
		t.Fatalf("%s: %v", e.name(), err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: decoded %+v, want %+v", e.name(), got, want)
	}
	if b, err := want.MarshalBinary(); err != nil || !bytes.Equal(b, msg) {
		t.Errorf("%s: encoding the fields does not give the message (%v)", e.name(), err)
	}
	q, err := attest.ParseQuote(want.Quote)
	if err != nil {
		t.Fatal(err)
	}
	if q.Body.ReportData != rd {
		t.Errorf("%s: the quote's REPORTDATA is not report_data", e.name())
	}
	simPub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), e.bin(t, "simulation_public"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := attest.VerifySimulation(q, simPub); err != nil {
		t.Errorf("%s: the quote does not verify with simulation_public: %v", e.name(), err)
	}
}

func checkReleasedVector(t *testing.T, e *entry) {
	t.Helper()
	d, err := ecdh.P256().NewPrivateKey(e.bin(t, "session_private"))
	if err != nil {
		t.Fatal(err)
	}
	ep, err := ecdh.P256().NewPrivateKey(e.bin(t, "cas_ephemeral_private"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.PublicKey().Bytes(), e.bin(t, "session_public")) || !bytes.Equal(ep.PublicKey().Bytes(), e.bin(t, "cas_ephemeral_public")) {
		t.Fatalf("%s: a public key is not its private key's", e.name())
	}
	nonce, hash := [32]byte(e.bin(t, "nonce")), [32]byte(e.bin(t, "policy_hash"))
	x1, _ := d.ECDH(ep.PublicKey())
	x2, _ := ep.ECDH(d.PublicKey())
	if !bytes.Equal(x1, e.bin(t, "shared_x")) || !bytes.Equal(x2, x1) {
		t.Errorf("%s: shared_x differs from ECDH", e.name())
	}
	k, err := SecretsKey(d, ep.PublicKey(), nonce)
	if err != nil || !bytes.Equal(k, e.bin(t, "secrets_key")) {
		t.Errorf("%s: SecretsKey = %x (%v), the vector says %s", e.name(), k, err, e.str(t, "secrets_key"))
	}
	plain := e.bin(t, "secrets")
	m := secretsFromLines(t, e)
	if b, err := m.MarshalBinary(); err != nil || !bytes.Equal(b, plain) {
		t.Errorf("%s: encoding the listed secrets does not give secrets (%v)", e.name(), err)
	}
	got, err := ParseSecrets(plain)
	if err != nil {
		t.Fatalf("%s: %v", e.name(), err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("%s: decoded secrets %+v, listed %+v", e.name(), got, m)
	}
	sealed, err := Seal(ep, d.PublicKey(), nonce, hash, plain)
	if err != nil || !bytes.Equal(sealed, e.bin(t, "sealed")) {
		t.Errorf("%s: Seal does not give sealed (%v)", e.name(), err)
	}
	opened, err := Open(d, ep.PublicKey(), nonce, hash, e.bin(t, "sealed"))
	if err != nil || !bytes.Equal(opened, plain) {
		t.Errorf("%s: Open = %v", e.name(), err)
	}
	msg := e.bin(t, "message")
	r, err := ParseAttestResponse(msg)
	if err != nil {
		t.Fatalf("%s: %v", e.name(), err)
	}
	want := &AttestResponse{Status: StatusReleased, Simulation: e.num(t, "simulation") == 1, PolicyHash: hash,
		Ephemeral: [65]byte(ep.PublicKey().Bytes()), Sealed: e.bin(t, "sealed")}
	if e.num(t, "status") != 0 || !reflect.DeepEqual(r, want) {
		t.Errorf("%s: decoded %+v, want %+v", e.name(), r, want)
	}
	if b, err := want.MarshalBinary(); err != nil || !bytes.Equal(b, msg) {
		t.Errorf("%s: encoding the fields does not give the message (%v)", e.name(), err)
	}
}

// generateVectors writes testdata/casproto from fixed keys. The simulation
// quote's ECDSA signatures use a seeded random source, so the files come
// out the same each time.
func generateVectors(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 20)
	if err := os.MkdirAll(vectorDir, 0o755); err != nil {
		t.Fatal(err)
	}
	session := fixedECDH(t, "session key")
	nonce := fixed32("nonce")
	sk := [65]byte(session.PublicKey().Bytes())
	simKey, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), fixedScalar("simulation key"))
	if err != nil {
		t.Fatal(err)
	}
	simPub, _ := simKey.PublicKey.Bytes()
	rd := ReportData(nonce, sk)
	body := attest.ReportBody{ISVProdID: 7, ISVSVN: 2}
	body.Attributes.Flags = attest.FlagInit | attest.FlagMode64Bit
	body.Attributes.XFRM = 3
	body.MRENCLAVE = fixed32("mrenclave")
	body.MRSIGNER = fixed32("mrsigner")
	quote, err := attest.NewSimulationQuote(body, rd[:], simKey)
	if err != nil {
		t.Fatal(err)
	}
	var reqs []*entry
	for _, client := range []string{"scone-run 0.1 (simulation)", ""} {
		r := &AttestRequest{Policy: "web-prod", Nonce: nonce, SessionKey: sk, Quote: quote, Client: client}
		msg, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		e := &entry{}
		if client != "" {
			e.add("name", "attest request for policy web-prod with a simulation quote and a client description")
		} else {
			e.add("name", "the same request without the optional client description")
		}
		e.hex("session_private", fixedScalar("session key"))
		e.hex("session_public", sk[:])
		e.hex("nonce", nonce[:])
		e.hex("report_data", rd[:])
		e.hex("simulation_private", fixedScalar("simulation key"))
		e.hex("simulation_public", simPub)
		e.add("policy", r.Policy)
		if client != "" {
			e.add("client", client)
		}
		e.hex("quote", quote)
		e.hex("message", msg)
		reqs = append(reqs, e)
	}
	writeVectors(t, "attest-request.txt", `
Attest requests (message type 1). REPORTDATA = SHA-256("scone-cas attest v1" || 00 || nonce || session_public) || 32 zero bytes.
The quote is a simulation quote signed by simulation_private (ECDSA P-256); its report body has MRENCLAVE
SHA-256("scone-cas test vector: mrenclave"), MRSIGNER SHA-256("scone-cas test vector: mrsigner"), ISVPRODID 7, ISVSVN 2.
Encoding policy, nonce, session_public, quote (and client) must give message; decoding message must give them.`, reqs)

	ephemeral := fixedECDH(t, "CAS ephemeral key")
	hash := fixed32("policy hash")
	var rel []*entry
	names := []string{"released: every kind of record (FS key, volume keys, environment, arguments with an empty one, files with binary content)",
		"released: the policy grants arguments, none (the program runs with argv[0] only)",
		"released: the policy grants nothing (an empty secrets message)"}
	for i, m := range vectorSecrets() {
		plain, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := Seal(ephemeral, session.PublicKey(), nonce, hash, plain)
		if err != nil {
			t.Fatal(err)
		}
		x, _ := ephemeral.ECDH(session.PublicKey())
		k, _ := SecretsKey(ephemeral, session.PublicKey(), nonce)
		resp := &AttestResponse{Status: StatusReleased, Simulation: true, PolicyHash: hash, Ephemeral: [65]byte(ephemeral.PublicKey().Bytes()), Sealed: sealed}
		msg, err := resp.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		e := &entry{}
		e.add("name", names[i])
		e.hex("session_private", fixedScalar("session key"))
		e.hex("session_public", sk[:])
		e.hex("nonce", nonce[:])
		e.hex("cas_ephemeral_private", fixedScalar("CAS ephemeral key"))
		e.hex("cas_ephemeral_public", ephemeral.PublicKey().Bytes())
		e.hex("policy_hash", hash[:])
		e.hex("shared_x", x)
		e.hex("secrets_key", k)
		e.add("status", "0")
		e.add("simulation", "1")
		secretsLines(e, m)
		e.hex("secrets", plain)
		e.hex("sealed", sealed)
		e.hex("message", msg)
		rel = append(rel, e)
	}
	writeVectors(t, "attest-response-released.txt", `
Released attest responses (message type 2, status 0) answering the request of attest-request.txt.
secrets_key = HKDF-SHA256(IKM = shared_x = x-coordinate of ECDH(cas_ephemeral_private, session_public), salt = nonce,
info = "scone-cas secrets v1"), 32 bytes. sealed = AES-256-GCM(secrets_key, nonce 12 zero bytes, AAD = policy_hash, secrets):
ciphertext || 16-byte tag. secrets is the secrets message (type 3); the lines fs_key, volume_key, env, args_set, arg and
file list what it decodes to, in order.`, rel)

	var ref []*entry
	for _, r := range []*AttestResponse{
		{Status: StatusRefused, Simulation: true, Reason: `policy "web-prod" does not accept the enclave: MRENCLAVE 00ff is not one of the policy's enclaves`},
		{Status: StatusRetry, Reason: "the CAS store is unavailable: try again later"},
	} {
		msg, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		e := &entry{}
		e.add("name", r.Status.String())
		e.add("status", strconv.Itoa(int(r.Status)))
		e.add("simulation", map[bool]string{true: "1", false: "0"}[r.Simulation])
		e.add("reason", r.Reason)
		e.hex("message", msg)
		ref = append(ref, e)
	}
	writeVectors(t, "attest-response-refused.txt", `
Attest responses that release nothing (message type 2, status 1 refused, 2 try again later): a reason, no secrets.`, ref)

	plain, _ := vectorSecrets()[0].MarshalBinary()
	sealed, _ := Seal(ephemeral, session.PublicKey(), nonce, hash, plain)
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	otherHash, otherNonce := hash, nonce
	otherHash[0] ^= 1
	otherNonce[31] ^= 1
	var of []*entry
	for _, c := range []struct {
		name        string
		session     []byte
		nonce, hash [32]byte
		sealed      []byte
	}{
		{"one bit of the ciphertext flipped", fixedScalar("session key"), nonce, hash, flip(sealed, 0)},
		{"one bit of the GCM tag flipped", fixedScalar("session key"), nonce, hash, flip(sealed, len(sealed)-1)},
		{"another policy hash (AAD)", fixedScalar("session key"), nonce, otherHash, sealed},
		{"another nonce (HKDF salt)", fixedScalar("session key"), otherNonce, hash, sealed},
		{"another session key", fixedScalar("another session key"), nonce, hash, sealed},
		{"truncated: 15 bytes, shorter than the tag", fixedScalar("session key"), nonce, hash, sealed[:15]},
		{"the tag removed", fixedScalar("session key"), nonce, hash, sealed[:len(sealed)-16]},
	} {
		e := &entry{}
		e.add("name", c.name)
		e.hex("session_private", c.session)
		e.hex("cas_ephemeral_public", ephemeral.PublicKey().Bytes())
		e.hex("nonce", c.nonce[:])
		e.hex("policy_hash", c.hash[:])
		e.hex("sealed", c.sealed)
		of = append(of, e)
	}
	writeVectors(t, "open-must-fail.txt", `
Sealed secrets that must not open: the first released vector's sealed secrets, changed, or opened with the wrong inputs.`, of)

	writeVectors(t, "must-fail.txt", `
Messages every decoder must refuse. type: the decoder (1 attest request, 2 attest response, 3 secrets message).
offset: where this implementation reports the problem (a client need not report the same offset, only refuse).`, mustFail(t, quote, sk, nonce))
}

// raw builds a message record by record, without any check.
type rawRec struct {
	tag uint16
	val []byte
}

func rawMsg(typ uint16, recs ...rawRec) []byte {
	b := []byte(Magic)
	b = binary.LittleEndian.AppendUint16(b, Version)
	b = binary.LittleEndian.AppendUint16(b, typ)
	for _, r := range recs {
		b = binary.LittleEndian.AppendUint16(b, r.tag)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r.val)))
		b = append(b, r.val...)
	}
	return b
}

func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

type failCase struct {
	name   string
	typ    uint16
	offset int
	msg    []byte
}

// mustFailCases are the malformed messages of must-fail.txt (the quote is
// a short stand-in: the codec does not parse quotes).
func mustFailCases(quote []byte, sk [65]byte, nonce [32]byte) []failCase {
	pol := rawRec{1, []byte("web-prod")}
	non := rawRec{2, nonce[:]}
	ses := rawRec{3, sk[:]}
	quo := rawRec{4, quote}
	good := rawMsg(1, pol, non, ses, quo)
	offNonce := HeaderSize + 6 + 8
	offSession := offNonce + 6 + 32
	offQuote := offSession + 6 + 65
	badPoint := bytes.Clone(sk[:])
	badPoint[64] ^= 1
	compressed := bytes.Clone(sk[:])
	compressed[0] = 2
	setByte := func(b []byte, i int, v byte) []byte { c := bytes.Clone(b); c[i] = v; return c }
	hash := make([]byte, 32)
	eph := sk[:]
	sealed := make([]byte, 20)
	st := func(s uint32) rawRec { return rawRec{1, u32(s)} }
	sim := rawRec{3, u32(1)}
	reason := rawRec{2, []byte("no")}
	key := seq(0, 32)
	vol := func(p string) rawRec { return rawRec{17, cat([]byte(p), []byte{0}, key)} }
	env := func(s string) rawRec { return rawRec{18, []byte(s)} }
	fresh := func(p string, mode, iv, flags uint32) rawRec {
		return rawRec{22, cat([]byte(p), []byte{0}, u32(mode), u32(iv), u32(flags))}
	}
	file := func(mode uint32, p string) rawRec {
		return rawRec{21, cat(u32(mode), []byte(p), []byte{0}, []byte("x"))}
	}
	o1 := HeaderSize // the first record
	return []failCase{
		{"empty", 1, 0, nil},
		{"truncated header", 1, 7, good[:7]},
		{"bad magic", 1, 0, setByte(good, 3, 'T')},
		{"version 2", 1, 4, setByte(good, 4, 2)},
		{"type 2 given to the request decoder", 1, 6, setByte(good, 6, 2)},
		{"type 0", 3, 6, rawMsg(0)},
		{"missing nonce", 1, len(rawMsg(1, pol, ses, quo)), rawMsg(1, pol, ses, quo)},
		{"missing quote", 1, len(rawMsg(1, pol, non, ses)), rawMsg(1, pol, non, ses)},
		{"nonce of 31 bytes", 1, offNonce, rawMsg(1, pol, rawRec{2, nonce[:31]}, ses, quo)},
		{"session key of 64 bytes", 1, offSession, rawMsg(1, pol, non, rawRec{3, sk[1:]}, quo)},
		{"session key not on the curve", 1, offSession + 6, rawMsg(1, pol, non, rawRec{3, badPoint}, quo)},
		{"session key with prefix 02", 1, offSession + 6, rawMsg(1, pol, non, rawRec{3, compressed}, quo)},
		{"unknown tag 6", 1, len(good), cat(good, rawMsg(1, rawRec{6, []byte("x")})[HeaderSize:])},
		{"unknown tag 0", 1, o1, rawMsg(1, rawRec{0, nil}, pol, non, ses, quo)},
		{"nonce before the policy name", 1, o1 + 6 + 32, rawMsg(1, non, pol, ses, quo)},
		{"policy name twice", 1, o1 + 6 + 8, rawMsg(1, pol, pol, non, ses, quo)},
		{"3 trailing bytes", 1, len(good), cat(good, []byte{1, 0, 0})},
		{"record length overruns the message", 1, offQuote, cat(good[:offQuote+2], u32(uint32(len(quote)+1)), quote)},
		{"record length 0xffffffff", 1, offQuote, cat(good[:offQuote+2], u32(0xffffffff), quote)},
		{"policy name with capitals", 1, o1 + 6, rawMsg(1, rawRec{1, []byte("Web")}, non, ses, quo)},
		{"policy name of 64 bytes", 1, o1, rawMsg(1, rawRec{1, bytes.Repeat([]byte("a"), 64)}, non, ses, quo)},
		{"policy name with a slash", 1, o1 + 6, rawMsg(1, rawRec{1, []byte("a/b")}, non, ses, quo)},
		{"empty quote", 1, offQuote, rawMsg(1, pol, non, ses, rawRec{4, nil})},
		{"client description of 257 bytes", 1, len(good), rawMsg(1, pol, non, ses, quo, rawRec{5, bytes.Repeat([]byte("v"), 257)})},
		{"client description with NUL", 1, len(good) + 6, rawMsg(1, pol, non, ses, quo, rawRec{5, []byte("a\x00b")})},
		{"empty client description", 1, len(good), rawMsg(1, pol, non, ses, quo, rawRec{5, nil})},

		{"status 3", 2, o1 + 6, rawMsg(2, st(3), reason, sim)},
		{"status of 2 bytes", 2, o1, rawMsg(2, rawRec{1, []byte{0, 0}}, sim, rawRec{4, hash}, rawRec{5, eph}, rawRec{6, sealed})},
		{"missing simulation", 2, len(rawMsg(2, st(1), reason)), rawMsg(2, st(1), reason)},
		{"simulation 2", 2, o1 + 10 + 8 + 6, rawMsg(2, st(1), reason, rawRec{3, u32(2)})},
		{"released without sealed secrets", 2, len(rawMsg(2, st(0), sim, rawRec{4, hash}, rawRec{5, eph})), rawMsg(2, st(0), sim, rawRec{4, hash}, rawRec{5, eph})},
		{"released with a reason", 2, o1 + 10, rawMsg(2, st(0), reason, sim, rawRec{4, hash}, rawRec{5, eph}, rawRec{6, sealed})},
		{"refused without a reason", 2, len(rawMsg(2, st(1), sim)), rawMsg(2, st(1), sim)},
		{"refused with a policy hash", 2, o1 + 10 + 8 + 10, rawMsg(2, st(1), reason, sim, rawRec{4, hash})},
		{"sealed secrets of 15 bytes", 2, o1 + 10 + 10 + 38 + 71, rawMsg(2, st(0), sim, rawRec{4, hash}, rawRec{5, eph}, rawRec{6, sealed[:15]})},
		{"ephemeral key not on the curve", 2, o1 + 10 + 10 + 38 + 6, rawMsg(2, st(0), sim, rawRec{4, hash}, rawRec{5, badPoint}, rawRec{6, sealed})},
		{"reason not UTF-8", 2, o1 + 10 + 6, rawMsg(2, st(1), rawRec{2, []byte{0xff, 0xfe}}, sim)},
		{"reason of 1025 bytes", 2, o1 + 10, rawMsg(2, st(1), rawRec{2, bytes.Repeat([]byte("r"), 1025)}, sim)},

		{"FS key of 31 bytes", 3, o1, rawMsg(3, rawRec{16, key[:31]})},
		{"volume key without 0x00", 3, o1 + 6, rawMsg(3, rawRec{17, cat([]byte("/data/"), key)})},
		{"volume key with a relative path", 3, o1 + 6, rawMsg(3, vol("data"))},
		{"volume key for /", 3, o1, rawMsg(3, rawRec{17, cat([]byte("/"), []byte{0}, key)})},
		{"volume key with an unclean path", 3, o1 + 6, rawMsg(3, vol("/data/../etc"))},
		{"volume keys out of path order", 3, o1 + 6 + 35, rawMsg(3, vol("/z"), vol("/a"))},
		{"volume key twice", 3, o1 + 6 + 35, rawMsg(3, vol("/a"), vol("/a"))},
		{"variable without =", 3, o1 + 6, rawMsg(3, env("PATH"))},
		{"variable named 1X", 3, o1 + 6, rawMsg(3, env("1X=y"))},
		{"variable value with NUL", 3, o1 + 6 + 3 + 1, rawMsg(3, env("AB=c\x00d"))},
		{"variables out of name order", 3, o1 + 6 + 3, rawMsg(3, env("B=1"), env("A=2"))},
		{"variable twice", 3, o1 + 6 + 3, rawMsg(3, env("A=1"), env("A=2"))},
		{"argument without the args set record", 3, o1, rawMsg(3, rawRec{20, []byte("x")})},
		{"args set 2", 3, o1 + 6, rawMsg(3, rawRec{19, u32(2)})},
		{"argument with NUL", 3, o1 + 10 + 6 + 1, rawMsg(3, rawRec{19, u32(1)}, rawRec{20, []byte("a\x00")})},
		{"file mode 01000", 3, o1 + 6, rawMsg(3, file(0o1000, "/etc/x"))},
		{"file with an unclean path", 3, o1 + 6 + 4, rawMsg(3, file(0o400, "/etc/../x"))},
		{"file without 0x00", 3, o1 + 6 + 4, rawMsg(3, rawRec{21, cat(u32(0o400), []byte("/etc/x"))})},
		{"files out of path order", 3, o1 + 14, rawMsg(3, file(0o400, "/b"), file(0o400, "/a"))},
		{"file record of 6 bytes", 3, o1, rawMsg(3, rawRec{21, cat(u32(0o400), []byte("/\x00"))[:6]})},
		{"args set after an argument tag (order)", 3, o1 + 10 + 7, rawMsg(3, rawRec{19, u32(1)}, rawRec{20, []byte("a")}, rawRec{19, u32(1)})},
		{"volume freshness 3", 3, o1 + 6 + 6, rawMsg(3, fresh("/data", 3, 0, 0))},
		{"volume freshness interval 0 ms", 3, o1 + 6 + 6, rawMsg(3, fresh("/data", 2, 0, 0))},
		{"volume freshness interval 60001 ms", 3, o1 + 6 + 6, rawMsg(3, fresh("/data", 2, 60001, 0))},
		{"volume freshness every-fsync with an interval", 3, o1 + 6 + 6, rawMsg(3, fresh("/data", 1, 5, 0))},
		{"volume freshness flags 2", 3, o1 + 6 + 6 + 8, rawMsg(3, fresh("/data", 1, 0, 2))},
		{"volume freshness with a relative path", 3, o1 + 6, rawMsg(3, fresh("data", 1, 0, 0))},
		{"volume freshness of 11 bytes after the path", 3, o1 + 6, rawMsg(3, rawRec{22, cat([]byte("/data\x00"), u32(1), u32(0), []byte{0, 0, 0})})},
		{"volume freshness out of path order", 3, o1 + 21, rawMsg(3, fresh("/z", 1, 0, 0), fresh("/a", 1, 0, 0))},
		{"volume freshness twice", 3, o1 + 21, rawMsg(3, fresh("/a", 1, 0, 0), fresh("/a", 1, 0, 0))},
	}
}

func mustFail(t *testing.T, quote []byte, sk [65]byte, nonce [32]byte) []*entry {
	var out []*entry
	for _, c := range mustFailCases(quote[:64], sk, nonce) {
		e := &entry{}
		e.add("name", c.name)
		e.add("type", strconv.Itoa(int(c.typ)))
		e.add("offset", strconv.Itoa(c.offset))
		e.hex("message", c.msg)
		out = append(out, e)
	}
	return out
}
