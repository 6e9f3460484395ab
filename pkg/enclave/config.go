package enclave

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"path"
	"strings"
)

// Config encoding constants (docs/enclave.md, "config.bin").
const (
	// ConfigMagic starts every config.bin.
	ConfigMagic = "SCONECFG"
	// ConfigVersion is the only encoding version this package reads and writes.
	ConfigVersion = 1
	// MaxConfigSize bounds config.bin (the C parser refuses larger inputs).
	MaxConfigSize = 1 << 20
)

// Defaults applied by ApplyDefaults and DefaultConfig.
const (
	DefaultHeapSize   = 1 << 30 // 1 GiB
	DefaultStackSize  = 8 << 20 // 8 MiB per thread
	DefaultMaxThreads = 64      // thread pools (Python, apache event MPM, JVMs) start dozens; a thread costs nothing until it exists in sim mode
	DefaultExitCycles = 8000
	DefaultCwd        = "/"
)

// Limits checked by Validate (and by the C parser).
const (
	PageSize   = 4096
	MinHeap    = 1 << 20
	MaxHeap    = 16 << 30
	MinStack   = 64 << 10
	MaxStack   = 1 << 30
	MaxThreads = 1024
)

// Transport selects how system calls leave the enclave.
type Transport uint32

const (
	// TransportUnset is the zero value; ApplyDefaults turns it into TransportSync.
	TransportUnset Transport = 0
	// TransportSync: the calling thread executes the call (plus a simulated exit cost).
	TransportSync Transport = 1
	// TransportAsync: shared-memory queues served by host threads.
	TransportAsync Transport = 2
)

func (t Transport) String() string {
	switch t {
	case TransportSync:
		return "sync"
	case TransportAsync:
		return "async"
	case TransportUnset:
		return "unset"
	}
	return fmt.Sprintf("transport(%d)", uint32(t))
}

// Scheduler selects how application threads map onto enclave threads.
type Scheduler uint32

const (
	// SchedulerOS (the zero value, not encoded): every application thread
	// is a kernel thread, at most MaxThreads of them.
	SchedulerOS Scheduler = 0
	// SchedulerMN: application threads are user-level threads multiplexed
	// onto at most MaxThreads enclave threads (record 29; docs/runtime.md,
	// "User-level threads (M:N)").
	SchedulerMN Scheduler = 1
)

func (s Scheduler) String() string {
	switch s {
	case SchedulerOS:
		return "os"
	case SchedulerMN:
		return "mn"
	}
	return fmt.Sprintf("scheduler(%d)", uint32(s))
}

// ParseScheduler parses "os" or "mn".
func ParseScheduler(s string) (Scheduler, error) {
	switch s {
	case "os", "":
		return SchedulerOS, nil
	case "mn":
		return SchedulerMN, nil
	}
	return SchedulerOS, fmt.Errorf("parsing scheduler %q: %w", s, &ConfigError{Field: "scheduler", Reason: `want "os" or "mn"`})
}

// ParseTransport parses "sync" or "async".
func ParseTransport(s string) (Transport, error) {
	switch s {
	case "sync":
		return TransportSync, nil
	case "async":
		return TransportAsync, nil
	}
	return TransportUnset, fmt.Errorf("parsing transport %q: %w", s, &ConfigError{Field: "transport", Reason: `want "sync" or "async"`})
}

// Config is the measured enclave configuration. Its canonical encoding
// (MarshalBinary) is config.bin; every field is covered by MRENCLAVE. The
// signer identity and ISV fields are not here: they are in the SIGSTRUCT.
type Config struct {
	// Argv is the application's argument vector; Argv[0] is its name.
	Argv []string
	// Env is the fixed environment, "NAME=value", names unique.
	Env []string
	// HostEnv lists the environment variable names the host may set or
	// override at run time. Empty: the host cannot change the environment.
	HostEnv []string
	// HostArgs allows the host to replace Argv[1:] at run time.
	HostArgs bool
	// Cwd is the absolute working directory inside the protected FS.
	Cwd string
	// UID and GID the application runs as.
	UID, GID uint32
	// HeapSize, StackSize (per thread) in bytes, multiples of PageSize.
	HeapSize  uint64
	StackSize uint64
	// MaxThreads is the number of enclave threads (TCS).
	MaxThreads uint32
	// FSRoot is the root hash of the protected FS image.
	FSRoot [32]byte
	// ConsoleShield encrypts stdout/stderr into authenticated records.
	ConsoleShield bool
	// TLSPorts are listening ports whose accepted connections the network
	// shield wraps in TLS (docs/net-shield.md), strictly ascending; TLSCert
	// (the certificate chain, PEM) and TLSKey (its private key) are absolute
	// paths inside the protected FS, required when TLSPorts is not empty and
	// empty otherwise.
	TLSPorts []uint16
	TLSCert  string
	TLSKey   string
	// Transport is the syscall transport; ExitCycles the simulated cost of an
	// enclave exit in sim mode (sync transport), in cycles.
	Transport  Transport
	ExitCycles uint64
	// Scheduler maps application threads onto enclave threads; encoded
	// (record 29) only when it is not SchedulerOS, so a config without it
	// encodes, and measures, as before.
	Scheduler Scheduler
	// Entrypoint is the absolute path of the program inside the image,
	// symlinks resolved; Interpreter its ELF interpreter ("" when static);
	// Libraries the shared libraries to load (absolute paths).
	Entrypoint  string
	Interpreter string
	Libraries   []string
	// Volumes are host paths passed through to the application.
	Volumes []string
	// ProtectedVolumes are the paths of protected volumes (docs/volume.md):
	// what the application writes there is stored on the host encrypted
	// and authenticated. Encoded (record 28) only when set, so a config
	// without one encodes, and measures, as before.
	ProtectedVolumes []string
	// CASAddress ("host:port", see CheckCASAddress), CASID (SHA-256 of the
	// CAS's DER public key, docs/cas.md) and CASPolicy name the CAS the
	// enclave obtains its secrets from at start-up: all three or none. They
	// are encoded (records 22-24) only when set, so a config without a CAS
	// encodes, and measures, as before.
	CASAddress string
	CASID      [32]byte
	CASPolicy  string
	// The network shield's client side and mutual TLS (tlsconfig.go,
	// records 25-27, encoded only when set): TLSClientCA (a CA bundle in
	// the protected FS) makes the TLS ports require client certificates;
	// the application's connections to a TLSConnect destination
	// ("host:port") are wrapped in TLS, the server verified against
	// TLSCA (a CA bundle in the protected FS).
	TLSClientCA string
	TLSConnect  []string
	TLSCA       string
}

// DefaultConfig returns a Config with every default set; the caller fills in
// Argv, Entrypoint, FSRoot and whatever else applies.
func DefaultConfig() *Config {
	c := &Config{}
	c.ApplyDefaults()
	return c
}

// ApplyDefaults fills zero-valued HeapSize, StackSize, MaxThreads and Cwd
// with the defaults. When Transport is unset it becomes TransportSync and a
// zero ExitCycles becomes DefaultExitCycles; with an explicitly set
// Transport, ExitCycles 0 means "no simulated exit cost".
func (c *Config) ApplyDefaults() {
	if c.HeapSize == 0 {
		c.HeapSize = DefaultHeapSize
	}
	if c.StackSize == 0 {
		c.StackSize = DefaultStackSize
	}
	if c.MaxThreads == 0 {
		c.MaxThreads = DefaultMaxThreads
	}
	if c.Cwd == "" {
		c.Cwd = DefaultCwd
	}
	if c.Transport == TransportUnset {
		c.Transport = TransportSync
		if c.ExitCycles == 0 {
			c.ExitCycles = DefaultExitCycles
		}
	}
}

// ConfigError reports an invalid or malformed enclave configuration.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return "invalid enclave config: " + e.Reason
	}
	return fmt.Sprintf("invalid enclave config: %s: %s", e.Field, e.Reason)
}

// ErrConfigVersion is returned (wrapped) for a config.bin with an unknown version.
var ErrConfigVersion = errors.New("unsupported enclave config version")

func cfgErr(field, format string, a ...any) error {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

func checkString(field, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return cfgErr(field, "contains a NUL byte")
	}
	return nil
}

func checkAbs(field, s string, optional bool) error {
	if err := checkString(field, s); err != nil {
		return err
	}
	if s == "" && optional {
		return nil
	}
	if !strings.HasPrefix(s, "/") {
		return cfgErr(field, "%q is not an absolute path", s)
	}
	return nil
}

func checkName(field, n string) error {
	if n == "" || strings.IndexByte(n, '=') >= 0 || strings.IndexByte(n, 0) >= 0 {
		return cfgErr(field, "bad variable name %q", n)
	}
	return nil
}

// Validate checks every field against the rules of docs/enclave.md. It does
// not apply defaults.
func (c *Config) Validate() error {
	if len(c.Argv) == 0 {
		return cfgErr("argv", "empty (argv[0] is required)")
	}
	for _, a := range c.Argv {
		if err := checkString("argv", a); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, e := range c.Env {
		name, _, ok := strings.Cut(e, "=")
		if !ok {
			return cfgErr("env", "%q is not NAME=value", e)
		}
		if err := checkName("env", name); err != nil {
			return err
		}
		if err := checkString("env", e); err != nil {
			return err
		}
		if seen[name] {
			return cfgErr("env", "duplicate variable %q", name)
		}
		seen[name] = true
	}
	seen = map[string]bool{}
	for _, n := range c.HostEnv {
		if err := checkName("host env", n); err != nil {
			return err
		}
		if what, ok := CodeVariable(n); ok {
			return cfgErr("host env", "%s chooses code to run (%s): a host that sets it could run its own code inside the enclave; put the value in the image's environment instead", n, what)
		}
		if seen[n] {
			return cfgErr("host env", "duplicate name %q", n)
		}
		seen[n] = true
	}
	if err := checkAbs("cwd", c.Cwd, false); err != nil {
		return err
	}
	if c.HeapSize%PageSize != 0 || c.HeapSize < MinHeap || c.HeapSize > MaxHeap {
		return cfgErr("heap size", "%d is not a multiple of %d in [%d, %d]", c.HeapSize, PageSize, MinHeap, uint64(MaxHeap))
	}
	if c.StackSize%PageSize != 0 || c.StackSize < MinStack || c.StackSize > MaxStack {
		return cfgErr("stack size", "%d is not a multiple of %d in [%d, %d]", c.StackSize, PageSize, MinStack, MaxStack)
	}
	if c.MaxThreads < 1 || c.MaxThreads > MaxThreads {
		return cfgErr("max threads", "%d is not in [1, %d]", c.MaxThreads, MaxThreads)
	}
	for i, p := range c.TLSPorts {
		if p == 0 {
			return cfgErr("tls ports", "port 0")
		}
		if i > 0 && p <= c.TLSPorts[i-1] {
			return cfgErr("tls ports", "not strictly ascending at %d", p)
		}
	}
	if len(c.TLSPorts) > 0 {
		if err := checkAbs("tls cert", c.TLSCert, false); err != nil {
			return err
		}
		if err := checkAbs("tls key", c.TLSKey, false); err != nil {
			return err
		}
	} else if c.TLSCert != "" || c.TLSKey != "" {
		return cfgErr("tls cert", "set without TLS ports")
	}
	if c.Transport != TransportSync && c.Transport != TransportAsync {
		return cfgErr("transport", "%v is not sync or async", c.Transport)
	}
	if c.Scheduler != SchedulerOS && c.Scheduler != SchedulerMN {
		return cfgErr("scheduler", "%v is not os or mn", c.Scheduler)
	}
	if err := checkAbs("entrypoint", c.Entrypoint, false); err != nil {
		return err
	}
	if err := checkAbs("interpreter", c.Interpreter, true); err != nil {
		return err
	}
	for _, l := range c.Libraries {
		if err := checkAbs("libraries", l, false); err != nil {
			return err
		}
	}
	for _, v := range c.Volumes {
		if err := checkAbs("volumes", v, false); err != nil {
			return err
		}
	}
	if err := c.validateProtectedVolumes(); err != nil {
		return err
	}
	if err := c.validateCAS(); err != nil {
		return err
	}
	return c.validateTLS()
}

// Record tags of config.bin version 1, in encoding order.
const (
	tagArgv = 1 + iota
	tagEnv
	tagHostEnv
	tagHostArgs
	tagCwd
	tagUID
	tagGID
	tagHeap
	tagStack
	tagThreads
	tagFSRoot
	tagConsole
	tagTLSPorts
	tagTLSCert
	tagTLSKey
	tagTransport
	tagExitCycles
	tagEntrypoint
	tagInterp
	tagLibs
	tagVolumes
	// Optional (each only when set): the CAS records, all three or none
	// (cas.go), then the network shield's (tlsconfig.go).
	tagCASAddress
	tagCASID
	tagCASPolicy
	tagLast = tagVolumes // the last record every config has
)

// Optional records follow record 21 in ascending tag order, each present
// only when its field is set (so configs without them encode, and measure,
// as before): 22-24 (CAS, above), then these.
const (
	tagTLSClientCA = 25 // str
	tagTLSConnect  = 26 // list of "host:port"
	tagTLSCA       = 27 // str
	// The protected volumes (a list of paths), present only when there
	// are some.
	tagProtectedVolumes = 28
	// The scheduler (u32, SchedulerMN), present only when not SchedulerOS.
	tagScheduler = 29
)

// MaxProtectedVolumes is the most protected volumes a config names.
const MaxProtectedVolumes = 16

func optionalTag(tag uint32) bool { return tag >= tagCASAddress && tag <= tagScheduler }

type enc struct{ b []byte }

func (e *enc) u32(v uint32) { e.b = binary.LittleEndian.AppendUint32(e.b, v) }

func (e *enc) rec(tag uint32, v []byte) {
	e.u32(tag)
	e.u32(uint32(len(v)))
	e.b = append(e.b, v...)
}

func u32v(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64v(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func boolv(b bool) []byte {
	if b {
		return u32v(1)
	}
	return u32v(0)
}

func listv(l []string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(l)))
	for _, s := range l {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// MarshalBinary validates c and returns its canonical encoding (config.bin,
// version 1). It does not apply defaults.
func (c *Config) MarshalBinary() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	e := &enc{b: make([]byte, 0, 512)}
	e.b = append(e.b, ConfigMagic...)
	e.u32(ConfigVersion)
	e.u32(0) // body length, patched below
	e.rec(tagArgv, listv(c.Argv))
	e.rec(tagEnv, listv(c.Env))
	e.rec(tagHostEnv, listv(c.HostEnv))
	e.rec(tagHostArgs, boolv(c.HostArgs))
	e.rec(tagCwd, []byte(c.Cwd))
	e.rec(tagUID, u32v(c.UID))
	e.rec(tagGID, u32v(c.GID))
	e.rec(tagHeap, u64v(c.HeapSize))
	e.rec(tagStack, u64v(c.StackSize))
	e.rec(tagThreads, u32v(c.MaxThreads))
	e.rec(tagFSRoot, c.FSRoot[:])
	e.rec(tagConsole, boolv(c.ConsoleShield))
	ports := make([]byte, 0, 2*len(c.TLSPorts))
	for _, p := range c.TLSPorts {
		ports = binary.LittleEndian.AppendUint16(ports, p)
	}
	e.rec(tagTLSPorts, ports)
	e.rec(tagTLSCert, []byte(c.TLSCert))
	e.rec(tagTLSKey, []byte(c.TLSKey))
	e.rec(tagTransport, u32v(uint32(c.Transport)))
	e.rec(tagExitCycles, u64v(c.ExitCycles))
	e.rec(tagEntrypoint, []byte(c.Entrypoint))
	e.rec(tagInterp, []byte(c.Interpreter))
	e.rec(tagLibs, listv(c.Libraries))
	e.rec(tagVolumes, listv(c.Volumes))
	if c.HasCAS() {
		e.rec(tagCASAddress, []byte(c.CASAddress))
		e.rec(tagCASID, c.CASID[:])
		e.rec(tagCASPolicy, []byte(c.CASPolicy))
	}
	c.marshalTLS(e)
	if len(c.ProtectedVolumes) > 0 {
		e.rec(tagProtectedVolumes, listv(c.ProtectedVolumes))
	}
	if c.Scheduler != SchedulerOS {
		e.rec(tagScheduler, u32v(uint32(c.Scheduler)))
	}
	if len(e.b) > MaxConfigSize {
		return nil, cfgErr("", "encoding is %d bytes, more than %d", len(e.b), MaxConfigSize)
	}
	binary.LittleEndian.PutUint32(e.b[12:], uint32(len(e.b)-16))
	return e.b, nil
}

// UnmarshalBinary parses config.bin into c (see ParseConfig).
func (c *Config) UnmarshalBinary(b []byte) error {
	p, err := ParseConfig(b)
	if err != nil {
		return err
	}
	*c = *p
	return nil
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = cfgErr("", "truncated")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) u32() uint32 {
	v := d.take(4)
	if v == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(v)
}

func parseList(field string, v []byte) ([]string, error) {
	d := &dec{b: v}
	n := d.u32()
	if d.err != nil || uint64(n) > uint64(len(d.b))/4 {
		return nil, cfgErr(field, "bad list count")
	}
	var l []string
	if n > 0 {
		l = make([]string, 0, n)
	}
	for i := uint32(0); i < n; i++ {
		sl := d.u32()
		s := d.take(uint64(sl))
		if d.err != nil {
			return nil, cfgErr(field, "list entry %d truncated", i)
		}
		l = append(l, string(s))
	}
	if len(d.b) != 0 {
		return nil, cfgErr(field, "%d trailing bytes", len(d.b))
	}
	return l, nil
}

func fixedLen(tag uint32) int {
	switch tag {
	case tagHostArgs, tagUID, tagGID, tagThreads, tagConsole, tagTransport, tagScheduler:
		return 4
	case tagHeap, tagStack, tagExitCycles:
		return 8
	case tagFSRoot, tagCASID:
		return 32
	}
	return -1
}

func parseBool(field string, v []byte) (bool, error) {
	switch binary.LittleEndian.Uint32(v) {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, cfgErr(field, "boolean is not 0 or 1")
}

// ParseConfig parses and validates a canonical config.bin. It refuses an
// unknown version (ErrConfigVersion), unknown, missing or reordered records,
// trailing bytes and invalid values (*ConfigError).
func ParseConfig(b []byte) (*Config, error) {
	if len(b) < 16 || !bytes.Equal(b[:8], []byte(ConfigMagic)) {
		return nil, fmt.Errorf("parsing enclave config: %w", cfgErr("", "not a config.bin (bad magic or too short)"))
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != ConfigVersion {
		return nil, fmt.Errorf("parsing enclave config version %d: %w", v, ErrConfigVersion)
	}
	if len(b) > MaxConfigSize {
		return nil, fmt.Errorf("parsing enclave config: %w", cfgErr("", "larger than %d bytes", MaxConfigSize))
	}
	if body := binary.LittleEndian.Uint32(b[12:]); uint64(body) != uint64(len(b)-16) {
		return nil, fmt.Errorf("parsing enclave config: %w", cfgErr("", "body length %d, have %d bytes", body, len(b)-16))
	}
	c := &Config{}
	d := &dec{b: b[16:]}
	for want := uint32(1); want <= tagLast; want++ {
		tag := d.u32()
		n := d.u32()
		v := d.take(uint64(n))
		if d.err != nil {
			return nil, fmt.Errorf("parsing enclave config record %d: %w", want, d.err)
		}
		if tag != want {
			return nil, fmt.Errorf("parsing enclave config: %w", cfgErr("", "record %d where %d is expected", tag, want))
		}
		if fl := fixedLen(tag); fl >= 0 && len(v) != fl {
			return nil, fmt.Errorf("parsing enclave config: %w", cfgErr("", "record %d has length %d, want %d", tag, len(v), fl))
		}
		var err error
		switch tag {
		case tagArgv:
			c.Argv, err = parseList("argv", v)
		case tagEnv:
			c.Env, err = parseList("env", v)
		case tagHostEnv:
			c.HostEnv, err = parseList("host env", v)
		case tagHostArgs:
			c.HostArgs, err = parseBool("host args", v)
		case tagCwd:
			c.Cwd = string(v)
		case tagUID:
			c.UID = binary.LittleEndian.Uint32(v)
		case tagGID:
			c.GID = binary.LittleEndian.Uint32(v)
		case tagHeap:
			c.HeapSize = binary.LittleEndian.Uint64(v)
		case tagStack:
			c.StackSize = binary.LittleEndian.Uint64(v)
		case tagThreads:
			c.MaxThreads = binary.LittleEndian.Uint32(v)
		case tagFSRoot:
			copy(c.FSRoot[:], v)
		case tagConsole:
			c.ConsoleShield, err = parseBool("console shield", v)
		case tagTLSPorts:
			if len(v)%2 != 0 {
				err = cfgErr("tls ports", "odd length %d", len(v))
				break
			}
			for i := 0; i < len(v); i += 2 {
				c.TLSPorts = append(c.TLSPorts, binary.LittleEndian.Uint16(v[i:]))
			}
		case tagTLSCert:
			c.TLSCert = string(v)
		case tagTLSKey:
			c.TLSKey = string(v)
		case tagTransport:
			c.Transport = Transport(binary.LittleEndian.Uint32(v))
		case tagExitCycles:
			c.ExitCycles = binary.LittleEndian.Uint64(v)
		case tagEntrypoint:
			c.Entrypoint = string(v)
		case tagInterp:
			c.Interpreter = string(v)
		case tagLibs:
			c.Libraries, err = parseList("libraries", v)
		case tagVolumes:
			c.Volumes, err = parseList("volumes", v)
		}
		if err != nil {
			return nil, fmt.Errorf("parsing enclave config: %w", err)
		}
	}
	for last := uint32(tagLast); len(d.b) != 0; {
		tag := d.u32()
		n := d.u32()
		v := d.take(uint64(n))
		if d.err != nil {
			return nil, fmt.Errorf("parsing enclave config record after %d: %w", last, d.err)
		}
		if tag <= last || !optionalTag(tag) {
			return nil, fmt.Errorf("parsing enclave config: %w", cfgErr("", "record %d after record %d", tag, last))
		}
		last = tag
		if fl := fixedLen(tag); fl >= 0 && len(v) != fl {
			return nil, fmt.Errorf("parsing enclave config: %w", cfgErr("", "record %d has length %d, want %d", tag, len(v), fl))
		}
		if err := c.parseOptional(tag, v); err != nil {
			return nil, fmt.Errorf("parsing enclave config: %w", err)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("parsing enclave config: %w", err)
	}
	return c, nil
}

// validateProtectedVolumes: clean absolute paths other than / and outside
// the kernel's file systems, at most MaxProtectedVolumes, none inside
// another or inside (or around) a plain volume.
func (c *Config) validateProtectedVolumes() error {
	if len(c.ProtectedVolumes) > MaxProtectedVolumes {
		return cfgErr("protected volumes", "%d paths, at most %d", len(c.ProtectedVolumes), MaxProtectedVolumes)
	}
	within := func(a, b string) bool { return a == b || strings.HasPrefix(a, b+"/") || b == "/" }
	for i, p := range c.ProtectedVolumes {
		if err := checkAbs("protected volumes", p, false); err != nil {
			return err
		}
		if p == "/" || path.Clean(p) != p || len(p) > 4095 {
			return cfgErr("protected volumes", "%q is not a clean absolute path other than /", p)
		}
		for _, k := range []string{"/proc", "/dev", "/sys"} {
			if within(p, k) || within(k, p) {
				return cfgErr("protected volumes", "%q overlaps %s", p, k)
			}
		}
		for j, q := range c.ProtectedVolumes {
			if i != j && (within(p, q) || within(q, p)) {
				return cfgErr("protected volumes", "%q and %q overlap", p, q)
			}
		}
		for _, q := range c.Volumes {
			if within(p, q) || within(q, p) {
				return cfgErr("protected volumes", "%q overlaps the unprotected volume %q", p, q)
			}
		}
	}
	return nil
}

// parseOptional parses one optional record (its tag is known and in order;
// whether the records make sense together is Validate's job).
func (c *Config) parseOptional(tag uint32, v []byte) error {
	var err error
	switch tag {
	case tagCASAddress:
		c.CASAddress = string(v)
		if c.CASAddress == "" {
			err = cfgErr("cas address", "empty record")
		}
	case tagCASID:
		copy(c.CASID[:], v)
	case tagCASPolicy:
		c.CASPolicy = string(v)
	case tagTLSClientCA:
		c.TLSClientCA = string(v)
		if c.TLSClientCA == "" {
			err = cfgErr("tls client ca", "empty record")
		}
	case tagTLSConnect:
		c.TLSConnect, err = parseList("tls connect", v)
		if err == nil && len(c.TLSConnect) == 0 {
			err = cfgErr("tls connect", "empty record")
		}
	case tagTLSCA:
		c.TLSCA = string(v)
		if c.TLSCA == "" {
			err = cfgErr("tls ca", "empty record")
		}
	case tagProtectedVolumes:
		c.ProtectedVolumes, err = parseList("protected volumes", v)
		if err == nil && len(c.ProtectedVolumes) == 0 {
			err = cfgErr("protected volumes", "empty record")
		}
	case tagScheduler:
		c.Scheduler = Scheduler(binary.LittleEndian.Uint32(v))
		if c.Scheduler == SchedulerOS {
			err = cfgErr("scheduler", "record present for the default scheduler")
		}
	}
	return err
}
