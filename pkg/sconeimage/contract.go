package sconeimage

// Paths inside a converted image (docs/contracts.md).
const (
	RunPath       = "/scone/bin/scone-run"
	HostPath      = "/scone/bin/scone-host"
	FSImagePath   = "/scone/enclave/fs.img"
	ConfigPath    = "/scone/enclave/config.bin"
	SigStructPath = "/scone/enclave/sigstruct.bin"
)

// Modes of the files.
const (
	RuntimeMode = 0o755 // scone-run, scone-host
	EnclaveMode = 0o444 // fs.img, config.bin, sigstruct.bin
)

// Labels (image config) on every converted image. The manifest carries the
// same values as annotations (Image).
const (
	LabelMRENCLAVE    = "io.scone.mrenclave"
	LabelMRSIGNER     = "io.scone.mrsigner" // absent while unsigned
	LabelFSRoot       = "io.scone.fs-root"
	LabelSourceDigest = "io.scone.source-digest"
	LabelVersion      = "io.scone.version"
)

// OCI annotations naming the source image.
const (
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
	AnnotationBaseName   = "org.opencontainers.image.base.name"
)

// File is one file of a layer.
type File struct {
	Path string // absolute, clean
	Mode int64  // permission bits
	Data []byte
}
