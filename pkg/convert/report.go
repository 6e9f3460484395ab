package convert

import (
	"github.com/scone-build/scone-build/pkg/link"
	"github.com/scone-build/scone-build/pkg/rootfs"
)

// Report describes a conversion; `scone-build convert --json` prints it.
type Report struct {
	Version      string `json:"tool_version"`
	Source       string `json:"source,omitempty"`
	SourceDigest string `json:"source_digest,omitempty"`
	Destination  string `json:"destination,omitempty"`
	// Digest is the output image's manifest digest (empty for dir: outputs).
	Digest       string `json:"digest,omitempty"`
	MRENCLAVE    string `json:"mrenclave"`
	MRSIGNER     string `json:"mrsigner"`
	FSRoot       string `json:"fs_root"`
	RuntimeLayer string `json:"runtime_layer,omitempty"`
	EnclaveLayer string `json:"enclave_layer,omitempty"`

	Argv       []string `json:"argv"`
	Entrypoint string   `json:"entrypoint"`
	UID        uint32   `json:"uid"`
	GID        uint32   `json:"gid"`

	Files        int   `json:"files"`
	Dirs         int   `json:"dirs"`
	Symlinks     int   `json:"symlinks"`
	BytesIn      int64 `json:"bytes_in"`
	FSImageBytes int64 `json:"fs_image_bytes"`
	// FSCompression is the chunk compression of the FS image ("none",
	// "lz4", "lz4hc").
	FSCompression string `json:"fs_compression"`
	// FSDictionary is the size of the FS image's LZ4 dictionary (0: none).
	FSDictionary int `json:"fs_dictionary_bytes,omitempty"`

	// CAS is the CAS the enclave gets its secrets from (WithCAS).
	CAS *CASReport `json:"cas,omitempty"`

	Compatibility *link.Report `json:"compatibility,omitempty"`
	// Rewrite: the programs whose system call sites were rewritten for the
	// runtime's fast path (nil with WithRewrite(false)).
	Rewrite *RewriteReport `json:"syscall_rewrite,omitempty"`
	Forced  bool           `json:"forced,omitempty"`
	Notes   []rootfs.Note  `json:"notes,omitempty"`
	Skipped []string       `json:"skipped,omitempty"`
	Dropped []string       `json:"dropped_config,omitempty"`
	// Seconds spent per stage.
	Timings map[string]float64 `json:"timings_seconds"`

	// fsCached counts the content bytes encrypted ahead, while the layers
	// decompressed, that the FS image used (tests, benchmarks).
	fsCached int64
}

// CASReport names the CAS measured into the config (docs/cas.md).
type CASReport struct {
	Address string `json:"address"`
	ID      string `json:"cas_id"`
	Policy  string `json:"policy"`
	// PolicyVersion is the hash of the policy version that the converter
	// registered the image in (scone-build convert --cas-register).
	PolicyVersion string `json:"policy_version,omitempty"`
}
