package inspect

import (
	"bytes"
	"encoding/hex"
	"fmt"

	"github.com/scone-build/scone-build/pkg/fsprotect"
)

// Summary is what `scone-build inspect` shows.
type Summary struct {
	Digest    string            `json:"digest"`
	MRENCLAVE string            `json:"mrenclave"`
	MRSIGNER  string            `json:"mrsigner"`
	Signed    bool              `json:"signed"`
	SigStruct SigStructSummary  `json:"sigstruct"`
	Enclave   ConfigSummary     `json:"enclave_config"`
	FSImage   FSSummary         `json:"fs_image"`
	Labels    map[string]string `json:"labels"`
	Runtime   RuntimeSummary    `json:"runtime"`
}

// SigStructSummary lists the SIGSTRUCT fields a policy cares about.
type SigStructSummary struct {
	Date          string `json:"date"`
	Debug         bool   `json:"debug"`
	Attributes    string `json:"attributes"`
	AttributeMask string `json:"attribute_mask"`
	MiscSelect    uint32 `json:"miscselect"`
	ISVProdID     uint16 `json:"isv_prodid"`
	ISVSVN        uint16 `json:"isv_svn"`
	Exponent      uint32 `json:"exponent"`
}

// ConfigSummary is the measured enclave config.
type ConfigSummary struct {
	Argv             []string `json:"argv"`
	Env              []string `json:"env"`
	HostEnv          []string `json:"host_env"`
	HostArgs         bool     `json:"host_args"`
	Cwd              string   `json:"cwd"`
	UID              uint32   `json:"uid"`
	GID              uint32   `json:"gid"`
	HeapSize         uint64   `json:"heap_size"`
	StackSize        uint64   `json:"stack_size"`
	MaxThreads       uint32   `json:"max_threads"`
	FSRoot           string   `json:"fs_root"`
	ConsoleShield    bool     `json:"console_shield"`
	TLSPorts         []uint16 `json:"tls_ports,omitempty"`
	TLSCert          string   `json:"tls_cert,omitempty"`
	TLSKey           string   `json:"tls_key,omitempty"`
	TLSClientCA      string   `json:"tls_client_ca,omitempty"`
	TLSConnect       []string `json:"tls_connect,omitempty"`
	TLSCA            string   `json:"tls_ca,omitempty"`
	Transport        string   `json:"transport"`
	ExitCycles       uint64   `json:"exit_cycles"`
	Entrypoint       string   `json:"entrypoint"`
	Interpreter      string   `json:"interpreter,omitempty"`
	Libraries        []string `json:"libraries,omitempty"`
	Volumes          []string `json:"volumes,omitempty"`
	ProtectedVolumes []string `json:"protected_volumes,omitempty"`
	// The CAS the enclave gets its secrets from (docs/cas.md), when set.
	CASAddress string `json:"cas_address,omitempty"`
	CASID      string `json:"cas_id,omitempty"`
	CASPolicy  string `json:"cas_policy,omitempty"`
}

// FSSummary describes the protected FS image without the key.
type FSSummary struct {
	Size int64  `json:"size"`
	Root string `json:"root"`
	// RootMatchesConfig says whether the image's root hash is the one the
	// measured config binds.
	RootMatchesConfig bool   `json:"root_matches_config"`
	Error             string `json:"error,omitempty"`
}

// RuntimeSummary describes the runtime binaries.
type RuntimeSummary struct {
	RunSize  int `json:"scone_run_size"`
	HostSize int `json:"scone_host_size"`
}

// Summarize describes the image without any key.
func (im *Image) Summarize() *Summary {
	ss := im.SigStruct
	mrsigner := ss.MRSIGNER()
	c := im.Config
	s := &Summary{
		Digest:    im.Digest.String(),
		MRENCLAVE: hex.EncodeToString(ss.EnclaveHash[:]),
		MRSIGNER:  hex.EncodeToString(mrsigner[:]),
		Signed:    !bytes.Equal(ss.Signature[:], make([]byte, len(ss.Signature))),
		SigStruct: SigStructSummary{
			Date:          fmt.Sprintf("%04x-%02x-%02x", ss.Date>>16, (ss.Date>>8)&0xff, ss.Date&0xff),
			Debug:         ss.Attributes.Flags&0x2 != 0,
			Attributes:    fmt.Sprintf("flags=%#x xfrm=%#x", ss.Attributes.Flags, ss.Attributes.XFRM),
			AttributeMask: fmt.Sprintf("flags=%#x xfrm=%#x", ss.AttributeMask.Flags, ss.AttributeMask.XFRM),
			MiscSelect:    ss.MiscSelect,
			ISVProdID:     ss.ISVProdID,
			ISVSVN:        ss.ISVSVN,
			Exponent:      ss.Exponent,
		},
		Enclave: ConfigSummary{
			Argv: c.Argv, Env: c.Env, HostEnv: c.HostEnv, HostArgs: c.HostArgs, Cwd: c.Cwd, UID: c.UID, GID: c.GID,
			HeapSize: c.HeapSize, StackSize: c.StackSize, MaxThreads: c.MaxThreads, FSRoot: hex.EncodeToString(c.FSRoot[:]),
			ConsoleShield: c.ConsoleShield, TLSPorts: c.TLSPorts, TLSCert: c.TLSCert, TLSKey: c.TLSKey,
			TLSClientCA: c.TLSClientCA, TLSConnect: c.TLSConnect, TLSCA: c.TLSCA, Transport: c.Transport.String(), ExitCycles: c.ExitCycles,
			Entrypoint: c.Entrypoint, Interpreter: c.Interpreter, Libraries: c.Libraries, Volumes: c.Volumes, ProtectedVolumes: c.ProtectedVolumes,
		},
		Labels:  map[string]string{},
		Runtime: RuntimeSummary{RunSize: len(im.Run), HostSize: len(im.Host)},
	}
	if c.HasCAS() {
		s.Enclave.CASAddress, s.Enclave.CASID, s.Enclave.CASPolicy = c.CASAddress, hex.EncodeToString(c.CASID[:]), c.CASPolicy
	}
	if !s.Signed {
		s.MRSIGNER = ""
	}
	for k, v := range im.ImageConfig.Config.Labels {
		if len(k) > 9 && k[:9] == "io.scone." {
			s.Labels[k] = v
		}
	}
	s.FSImage.Size = int64(len(im.FSImage))
	root, err := fsprotect.RootOf(bytes.NewReader(im.FSImage), int64(len(im.FSImage)))
	if err != nil {
		s.FSImage.Error = err.Error()
	} else {
		s.FSImage.Root = hex.EncodeToString(root[:])
		s.FSImage.RootMatchesConfig = root == c.FSRoot
	}
	return s
}

// Label returns a label of the image config.
func (im *Image) Label(k string) string { return im.ImageConfig.Config.Labels[k] }
