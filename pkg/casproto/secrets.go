package casproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"sort"
)

// Secrets message records.
const (
	TagFSKey     uint16 = 16
	TagVolumeKey uint16 = 17
	TagEnv       uint16 = 18
	TagArgsSet   uint16 = 19
	TagArg       uint16 = 20
	TagFile      uint16 = 21
	// TagVolumeFreshness: path, 0x00, u32 freshness (FreshnessEveryFsync,
	// FreshnessInterval), u32 interval in ms (0 with every-fsync), u32
	// flags (FreshnessAllowReinit).
	TagVolumeFreshness uint16 = 22
)

// Freshness settings of a tracked volume (TagVolumeFreshness): when the
// runtime records the volume's state with the CAS.
const (
	FreshnessEveryFsync uint32 = 1 // before the application's fsync returns
	FreshnessInterval   uint32 = 2 // asynchronously, at most every interval
	// FreshnessAllowReinit (flag): an empty volume may start although the
	// CAS has a record; the runtime then asks to reinitialize it.
	FreshnessAllowReinit uint32 = 1
	// MaxFreshnessInterval bounds a volume's interval (ms), as the policy.
	MaxFreshnessInterval = 60000
)

// KeySize is the size of the FS key and of volume keys.
const KeySize = 32

// MaxSecretsSize bounds a secrets message so that the attest response
// that carries it sealed fits into MaxMessageSize.
const MaxSecretsSize = MaxMessageSize - 256

var secretsSchema = &schema{typ: TypeSecrets, what: "secrets message", fields: []field{
	{tag: TagFSKey, name: "FS key", min: KeySize, max: KeySize},
	{tag: TagVolumeKey, name: "volume key", repeat: true, min: 2 + 1 + KeySize, max: MaxMessageSize},
	{tag: TagEnv, name: "environment variable", repeat: true, min: 2, max: MaxMessageSize},
	{tag: TagArgsSet, name: "args set", min: 4, max: 4},
	{tag: TagArg, name: "argument", repeat: true, min: 0, max: MaxMessageSize},
	{tag: TagFile, name: "file", repeat: true, min: 4 + 2 + 1, max: MaxMessageSize},
	{tag: TagVolumeFreshness, name: "volume freshness", repeat: true, min: 2 + 1 + 12, max: 4096 + 1 + 12},
}}

// Secrets is message type 3, the plaintext an attest response carries
// sealed: what the policy grants the enclave.
type Secrets struct {
	FSKey      []byte      // nil, or the 32-byte FS key of the image
	VolumeKeys []VolumeKey // ascending by path, paths unique
	Env        []EnvVar    // ascending by name, names unique
	// ArgsSet is true when the policy grants arguments (even none): they
	// replace the program's arguments after argv[0].
	ArgsSet bool
	Args    []string
	Files   []File // ascending by path, paths unique
	// Freshness: the volumes whose state the runtime records with the
	// CAS (the policy's volumes), ascending by path, paths unique.
	Freshness []VolumeFreshness
}

// VolumeFreshness says how the runtime records the state of the protected
// volume at Path with the CAS (docs/volume.md, "Freshness").
type VolumeFreshness struct {
	Path        string // clean absolute path other than /
	Mode        uint32 // FreshnessEveryFsync or FreshnessInterval
	IntervalMS  uint32 // 1..MaxFreshnessInterval with FreshnessInterval, else 0
	AllowReinit bool
}

// VolumeKey is the key of the protected volume mounted at Path.
type VolumeKey struct {
	Path string // clean absolute path other than /
	Key  []byte // 32 bytes
}

// EnvVar is an environment variable.
type EnvVar struct {
	Name  string // [A-Za-z_][A-Za-z0-9_]*
	Value string // no NUL
}

// File is placed into the enclave's file system before the program runs.
type File struct {
	Path    string // clean absolute path other than /, no NUL
	Mode    uint32 // permission bits, at most 0777
	Content []byte
}

func validPath(p []byte) bool {
	s := string(p)
	return len(s) > 1 && bytes.IndexByte(p, 0) < 0 && path.IsAbs(s) && path.Clean(s) == s
}

func validEnvName(n []byte) bool {
	if len(n) == 0 {
		return false
	}
	for i, c := range n {
		letter := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// ParseSecrets decodes a secrets message (the plaintext Open returns).
func ParseSecrets(b []byte) (*Secrets, error) {
	s := secretsSchema
	recs, err := s.decode(b)
	if err != nil {
		return nil, err
	}
	out := &Secrets{}
	var lastVol, lastEnv, lastFile, lastFresh string
	for _, rec := range recs {
		v, at := rec.val, rec.valOff()
		switch rec.tag {
		case TagFSKey:
			out.FSKey = bytes.Clone(v)
		case TagVolumeKey:
			i := bytes.IndexByte(v, 0)
			if i < 0 || len(v)-i-1 != KeySize {
				return nil, s.errf(at, rec.tag, "want path, 0x00, and a %d-byte key", KeySize)
			}
			if !validPath(v[:i]) {
				return nil, s.errf(at, rec.tag, "%q is not a clean absolute path other than /", v[:i])
			}
			p := string(v[:i])
			if len(out.VolumeKeys) > 0 && p <= lastVol {
				return nil, s.errf(rec.off, rec.tag, "path %q after %q: volume keys are in ascending path order, each path once", p, lastVol)
			}
			lastVol = p
			out.VolumeKeys = append(out.VolumeKeys, VolumeKey{Path: p, Key: bytes.Clone(v[i+1:])})
		case TagEnv:
			name, val, ok := bytes.Cut(v, []byte("="))
			if !ok || !validEnvName(name) {
				return nil, s.errf(at, rec.tag, "want NAME=value with a variable name ([A-Za-z_][A-Za-z0-9_]*)")
			}
			if bytes.IndexByte(val, 0) >= 0 {
				return nil, s.errf(at+len(name)+1+bytes.IndexByte(val, 0), rec.tag, "the value of %s contains NUL", name)
			}
			n := string(name)
			if len(out.Env) > 0 && n <= lastEnv {
				return nil, s.errf(rec.off, rec.tag, "variable %s after %s: variables are in ascending name order, each name once", n, lastEnv)
			}
			lastEnv = n
			out.Env = append(out.Env, EnvVar{Name: n, Value: string(val)})
		case TagArgsSet:
			if x := binary.LittleEndian.Uint32(v); x != 1 {
				return nil, s.errf(at, rec.tag, "%d, want 1", x)
			}
			out.ArgsSet = true
		case TagArg:
			if !out.ArgsSet {
				return nil, s.errf(rec.off, rec.tag, "an argument without the args set record (%d)", TagArgsSet)
			}
			if i := bytes.IndexByte(v, 0); i >= 0 {
				return nil, s.errf(at+i, rec.tag, "an argument contains NUL")
			}
			out.Args = append(out.Args, string(v))
		case TagFile:
			mode := binary.LittleEndian.Uint32(v)
			if mode&^0o777 != 0 {
				return nil, s.errf(at, rec.tag, "mode %#o: only permission bits (at most 0777)", mode)
			}
			rest := v[4:]
			i := bytes.IndexByte(rest, 0)
			if i < 0 {
				return nil, s.errf(at+4, rec.tag, "want mode, path, 0x00, content: no 0x00 after the path")
			}
			if !validPath(rest[:i]) {
				return nil, s.errf(at+4, rec.tag, "%q is not a clean absolute path other than /", rest[:i])
			}
			p := string(rest[:i])
			if len(out.Files) > 0 && p <= lastFile {
				return nil, s.errf(rec.off, rec.tag, "path %q after %q: files are in ascending path order, each path once", p, lastFile)
			}
			lastFile = p
			out.Files = append(out.Files, File{Path: p, Mode: mode, Content: bytes.Clone(rest[i+1:])})
		case TagVolumeFreshness:
			i := bytes.IndexByte(v, 0)
			if i < 0 || len(v)-i-1 != 12 {
				return nil, s.errf(at, rec.tag, "want path, 0x00, freshness, interval, flags (3 u32)")
			}
			if !validPath(v[:i]) {
				return nil, s.errf(at, rec.tag, "%q is not a clean absolute path other than /", v[:i])
			}
			p := string(v[:i])
			if len(out.Freshness) > 0 && p <= lastFresh {
				return nil, s.errf(rec.off, rec.tag, "path %q after %q: volume freshness records are in ascending path order, each path once", p, lastFresh)
			}
			lastFresh = p
			f := VolumeFreshness{Path: p, Mode: binary.LittleEndian.Uint32(v[i+1:]), IntervalMS: binary.LittleEndian.Uint32(v[i+5:])}
			flags := binary.LittleEndian.Uint32(v[i+9:])
			if err := f.check(); err != nil {
				return nil, s.errf(at+i+1, rec.tag, "%s", err)
			}
			if flags&^FreshnessAllowReinit != 0 {
				return nil, s.errf(at+i+9, rec.tag, "flags %#x: only %#x (allow reinit) is defined", flags, FreshnessAllowReinit)
			}
			f.AllowReinit = flags&FreshnessAllowReinit != 0
			out.Freshness = append(out.Freshness, f)
		}
	}
	return out, nil
}

// MarshalBinary encodes the secrets, sorting volume keys, variables and
// files as the format wants; it refuses what ParseSecrets would refuse
// (and a message of more than MaxSecretsSize bytes).
func (m *Secrets) MarshalBinary() ([]byte, error) {
	// What would decode to something else: a name with '=', a path with NUL.
	for _, e := range m.Env {
		if !validEnvName([]byte(e.Name)) {
			return nil, fmt.Errorf("encoding secrets message: %q is not a variable name ([A-Za-z_][A-Za-z0-9_]*)", e.Name)
		}
	}
	for _, v := range m.VolumeKeys {
		if !validPath([]byte(v.Path)) {
			return nil, fmt.Errorf("encoding secrets message: volume key path %q is not a clean absolute path other than /", v.Path)
		}
	}
	for _, f := range m.Files {
		if !validPath([]byte(f.Path)) {
			return nil, fmt.Errorf("encoding secrets message: file path %q is not a clean absolute path other than /", f.Path)
		}
	}
	vols := append([]VolumeKey(nil), m.VolumeKeys...)
	sort.SliceStable(vols, func(i, j int) bool { return vols[i].Path < vols[j].Path })
	env := append([]EnvVar(nil), m.Env...)
	sort.SliceStable(env, func(i, j int) bool { return env[i].Name < env[j].Name })
	for _, f := range m.Freshness {
		if !validPath([]byte(f.Path)) {
			return nil, fmt.Errorf("encoding secrets message: volume freshness path %q is not a clean absolute path other than /", f.Path)
		}
		if err := f.check(); err != nil {
			return nil, fmt.Errorf("encoding secrets message: volume freshness of %s: %s", f.Path, err)
		}
	}
	files := append([]File(nil), m.Files...)
	sort.SliceStable(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	fresh := append([]VolumeFreshness(nil), m.Freshness...)
	sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].Path < fresh[j].Path })
	w := newWriter(TypeSecrets, 256)
	if m.FSKey != nil {
		w.record(TagFSKey, m.FSKey)
	}
	for _, v := range vols {
		w.record(TagVolumeKey, []byte(v.Path), []byte{0}, v.Key)
	}
	for _, e := range env {
		w.record(TagEnv, []byte(e.Name), []byte("="), []byte(e.Value))
	}
	if m.ArgsSet || len(m.Args) > 0 {
		w.u32(TagArgsSet, 1)
	}
	for _, a := range m.Args {
		w.record(TagArg, []byte(a))
	}
	for _, f := range files {
		w.record(TagFile, binary.LittleEndian.AppendUint32(nil, f.Mode), []byte(f.Path), []byte{0}, f.Content)
	}
	for _, f := range fresh {
		var flags uint32
		if f.AllowReinit {
			flags = FreshnessAllowReinit
		}
		w.record(TagVolumeFreshness, []byte(f.Path), []byte{0}, binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, f.Mode), f.IntervalMS), flags))
	}
	if len(w.b) > MaxSecretsSize {
		return nil, fmt.Errorf("encoding secrets message: %d bytes, more than %d (one attest response carries at most 1 MiB): %w", len(w.b), MaxSecretsSize, ErrTooLarge)
	}
	return w.finish(secretsSchema, func(b []byte) error { _, err := ParseSecrets(b); return err })
}

// check: a known mode with an interval that fits it.
func (f VolumeFreshness) check() error {
	switch f.Mode {
	case FreshnessEveryFsync:
		if f.IntervalMS != 0 {
			return fmt.Errorf("interval %d ms with freshness every-fsync (want 0)", f.IntervalMS)
		}
	case FreshnessInterval:
		if f.IntervalMS < 1 || f.IntervalMS > MaxFreshnessInterval {
			return fmt.Errorf("interval %d ms: want 1-%d", f.IntervalMS, MaxFreshnessInterval)
		}
	default:
		return fmt.Errorf("freshness %d: want %d (every-fsync) or %d (interval)", f.Mode, FreshnessEveryFsync, FreshnessInterval)
	}
	return nil
}

// ErrTooLarge: the secrets do not fit into one attest response.
var ErrTooLarge = errors.New("secrets message too large")
