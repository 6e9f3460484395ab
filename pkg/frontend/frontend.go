package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// Paths inside the frontend image and inside the conversion step.
const (
	SconeBuildPath = "/bin/scone-build"
	FrontendPath   = "/bin/scone-frontend"

	SignerSecretID = "scone-signer"
	FSKeySecretID  = "scone-fs-key"
	signerPath     = "/run/secrets/" + SignerSecretID
	fsKeyPath      = "/run/secrets/" + FSKeySecretID

	// FingerprintEnv carries the key fingerprint into the conversion step:
	// scone-build ignores it; it only makes the step's cache key depend on
	// the keys.
	FingerprintEnv = "SCONE_KEY_FINGERPRINT"

	// Names of the LLB steps, as buildctl --progress=plain shows them.
	StepFingerprint = "[scone] key fingerprint"
	StepConvert     = "[scone] convert"
	StepRuntime     = "[scone] runtime layer"
	StepEnclave     = "[scone] enclave layer"
)

// ErrNoFrontendImage is returned when the frontend cannot find the image it
// runs from (needed to run scone-build as a build step).
var ErrNoFrontendImage = errors.New("cannot locate the frontend's own image")

// Build is the gateway frontend's build function (grpcclient.RunFromEnvironment).
func Build(ctx context.Context, c client.Client) (*client.Result, error) {
	opts := c.BuildOpts().Opts
	convertArgs, err := ConvertArgs(opts)
	if err != nil {
		return nil, err
	}
	res, err := delegate(ctx, c, opts)
	if err != nil {
		return nil, err
	}
	if opts[keyRequestID] != "" {
		// Subrequests (outline, targets, lint, ...) describe the Dockerfile.
		return res, nil
	}
	self, err := frontendImage(ctx, c, opts)
	if err != nil {
		return nil, err
	}
	fp, err := keyFingerprint(ctx, c, self)
	if err != nil {
		return nil, err
	}
	epoch, err := sourceDateEpoch(opts)
	if err != nil {
		return nil, err
	}
	cv := converter{c: c, self: self, fingerprint: fp, args: convertArgs, epoch: epoch, epochArg: opts[keyEpoch]}

	out := client.NewResult()
	for k, v := range res.Metadata {
		out.AddMeta(k, v)
	}
	if res.Refs == nil {
		ref, cfg, err := cv.convert(ctx, res.Ref, res.Metadata[exptypes.ExporterImageConfigKey], "")
		if err != nil {
			return nil, err
		}
		out.SetRef(ref)
		out.AddMeta(exptypes.ExporterImageConfigKey, cfg)
		return out, nil
	}
	for p, r := range res.Refs {
		ref, cfg, err := cv.convert(ctx, r, res.Metadata[exptypes.ExporterImageConfigKey+"/"+p], p)
		if err != nil {
			return nil, err
		}
		out.AddRef(p, ref)
		out.AddMeta(exptypes.ExporterImageConfigKey+"/"+p, cfg)
	}
	return out, nil
}

// delegate builds the Dockerfile with BuildKit's built-in Dockerfile frontend.
func delegate(ctx context.Context, c client.Client, opts map[string]string) (*client.Result, error) {
	var inputs map[string]*pb.Definition
	caps := c.BuildOpts().Caps
	if caps.Supports(gwpb.CapFrontendInputs) == nil {
		in, err := c.Inputs(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading frontend inputs: %w", err)
		}
		inputs = make(map[string]*pb.Definition, len(in))
		for name, st := range in {
			def, err := st.Marshal(ctx)
			if err != nil {
				return nil, fmt.Errorf("marshalling frontend input %q: %w", name, err)
			}
			inputs[name] = def.ToPB()
		}
	}
	res, err := c.Solve(ctx, client.SolveRequest{
		Frontend:       "dockerfile.v0",
		FrontendOpt:    DelegateOpts(opts),
		FrontendInputs: inputs,
	})
	if err != nil {
		return nil, fmt.Errorf("building the Dockerfile with %q: %w", "dockerfile.v0", err)
	}
	return res, nil
}

// frontendImage returns the LLB state of the image this frontend runs from:
// the definition BuildKit hands to the frontend, else the source option
// (a named context such as oci-layout://..., or an image reference).
func frontendImage(ctx context.Context, c client.Client, opts map[string]string) (llb.State, error) {
	if cf, ok := c.(interface{ CurrentFrontend() (*llb.State, error) }); ok {
		st, err := cf.CurrentFrontend()
		if err != nil {
			return llb.State{}, fmt.Errorf("reading the frontend definition: %w", err)
		}
		if st != nil {
			return *st, nil
		}
	}
	source := opts[keySource]
	if source == "" {
		return llb.State{}, fmt.Errorf("looking up frontend option %q: %w", keySource, ErrNoFrontendImage)
	}
	bc, err := dockerui.NewClient(c)
	if err != nil {
		return llb.State{}, fmt.Errorf("reading frontend options: %w", err)
	}
	nc, err := bc.NamedContext(source, dockerui.ContextOpt{})
	if err != nil {
		return llb.State{}, fmt.Errorf("resolving frontend image %q: %w", source, err)
	}
	if nc != nil {
		st, _, err := nc.Load(ctx)
		if err != nil {
			return llb.State{}, fmt.Errorf("loading frontend image %q: %w", source, err)
		}
		if st != nil {
			return *st, nil
		}
	}
	return llb.Image(source), nil
}

// secrets mounts the two keys. optional lets the step start without them, so
// that `scone-frontend fingerprint` can say which --secret is missing.
func secrets(optional bool) []llb.RunOption {
	opt := func(id string) []llb.SecretOption {
		o := []llb.SecretOption{llb.SecretID(id)}
		if optional {
			o = append(o, llb.SecretOptional)
		}
		return o
	}
	return []llb.RunOption{
		llb.AddSecret(signerPath, opt(SignerSecretID)...),
		llb.AddSecret(fsKeyPath, opt(FSKeySecretID)...),
	}
}

// keyFingerprint runs `scone-frontend fingerprint` on the two secrets, never
// cached (secret contents are not part of cache keys), and returns its output.
func keyFingerprint(ctx context.Context, c client.Client, self llb.State) (string, error) {
	ro := append(secrets(true),
		llb.Args([]string{FrontendPath, "fingerprint", "--key", signerPath, "--fs-key", fsKeyPath, "--out", "/out/fingerprint"}),
		llb.Network(llb.NetModeNone),
		llb.IgnoreCache,
		llb.WithCustomName(StepFingerprint),
	)
	run := self.Run(ro...)
	out := run.AddMount("/out", llb.Scratch())
	ref, err := solve(ctx, c, out)
	if err != nil {
		return "", fmt.Errorf("fingerprinting the keys (give them as --secret id=%s,src=SIGNER.pem --secret id=%s,src=FS.key): %w",
			SignerSecretID, FSKeySecretID, err)
	}
	b, err := ref.ReadFile(ctx, client.ReadRequest{Filename: "/fingerprint"})
	if err != nil {
		return "", fmt.Errorf("reading the key fingerprint: %w", err)
	}
	return string(b), nil
}

func solve(ctx context.Context, c client.Client, st llb.State) (client.Reference, error) {
	def, err := st.Marshal(ctx)
	if err != nil {
		return nil, fmt.Errorf("marshalling llb: %w", err)
	}
	res, err := c.Solve(ctx, client.SolveRequest{Definition: def.ToPB(), Evaluate: true})
	if err != nil {
		return nil, err
	}
	return res.SingleRef()
}

func sourceDateEpoch(opts map[string]string) (time.Time, error) {
	v, ok := opts[keyEpoch]
	if !ok || v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("parsing build argument %q: %w", "SOURCE_DATE_EPOCH", err)
	}
	return time.Unix(n, 0).UTC(), nil
}

type converter struct {
	c           client.Client
	self        llb.State
	fingerprint string
	args        []string
	epoch       time.Time // timestamps of the output layers' files
	epochArg    string    // SOURCE_DATE_EPOCH build argument, passed to scone-build when set
}

// ConvertCommand is the command line of the conversion step (before the
// options from ConvertArgs). The destination is a new directory inside the
// /out mount: scone-build writes it next to its final place and renames it.
func ConvertCommand() []string {
	return []string{SconeBuildPath, "convert", "dir:/in", "dir:/out/image",
		"--source-config", "/cfg/config.json", "--key", signerPath, "--fs-key", fsKeyPath, "--json"}
}

// convert runs scone-build on one Dockerfile result and returns the converted
// file system and its image config.
func (cv converter) convert(ctx context.Context, ref client.Reference, config []byte, platform string) (client.Reference, []byte, error) {
	what := "the Dockerfile result"
	if platform != "" {
		what += " for " + platform
	}
	in := llb.Scratch()
	if ref != nil {
		st, err := ref.ToState()
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", what, err)
		}
		in = st
	}
	if len(config) == 0 {
		config = []byte("{}")
	}
	cfg := llb.Scratch().File(llb.Mkfile("/config.json", 0o644, config), llb.WithCustomName("[scone] source image config"))
	ro := append(secrets(false),
		llb.Args(append(ConvertCommand(), cv.args...)),
		llb.AddEnv(FingerprintEnv, cv.fingerprint),
		llb.Network(llb.NetModeNone),
		llb.WithCustomName(StepConvert),
	)
	if cv.epochArg != "" {
		ro = append(ro, llb.AddEnv("SOURCE_DATE_EPOCH", cv.epochArg))
	}
	run := cv.self.Run(ro...)
	run.AddMount("/in", in, llb.Readonly)
	run.AddMount("/cfg", cfg, llb.Readonly)
	out := run.AddMount("/out", llb.Scratch())

	outRef, err := solve(ctx, cv.c, out)
	if err != nil {
		return nil, nil, fmt.Errorf("converting %s: %w", what, err)
	}
	cfgOut, err := outRef.ReadFile(ctx, client.ReadRequest{Filename: "/image/config.json"})
	if err != nil {
		return nil, nil, fmt.Errorf("reading the converted image config %q: %w", "/out/image/config.json", err)
	}
	newCfg, err := finishConfig(cfgOut)
	if err != nil {
		return nil, nil, err
	}

	// Two layers: the runtime (identical bytes for every conversion, so the
	// blob is shared) and the enclave (FS image, config, SIGSTRUCT).
	t := cv.epoch
	rt := llb.Scratch().File(llb.Copy(out, "/image/rootfs/", "/", &llb.CopyInfo{
		CopyDirContentsOnly: true,
		ExcludePatterns:     []string{"scone/enclave"},
		CreatedTime:         &t,
	}), llb.WithCustomName(StepRuntime))
	fs := rt.File(llb.Copy(out, "/image/rootfs/scone/enclave", "/scone/enclave", &llb.CopyInfo{
		CopyDirContentsOnly: true,
		CreateDestPath:      true,
		CreatedTime:         &t,
	}), llb.WithCustomName(StepEnclave))
	fsRef, err := solve(ctx, cv.c, fs)
	if err != nil {
		return nil, nil, fmt.Errorf("assembling the converted file system of %s: %w", what, err)
	}
	return fsRef, newCfg, nil
}

// finishConfig takes the image config scone-build wrote and makes it fit the
// layers the frontend returns: BuildKit's exporter fills in rootfs.diff_ids,
// and history gets one entry per layer.
func finishConfig(b []byte) ([]byte, error) {
	var img dockerspec.DockerOCIImage
	if err := json.Unmarshal(b, &img); err != nil {
		return nil, fmt.Errorf("parsing the converted image config %q: %w", "/out/image/config.json", err)
	}
	img.RootFS = ocispecs.RootFS{Type: "layers"}
	img.History = []ocispecs.History{
		{Created: img.Created, CreatedBy: "scone-build convert: shield runtime", Comment: "scone-frontend"},
		{Created: img.Created, CreatedBy: "scone-build convert: protected FS image, enclave config, SIGSTRUCT", Comment: "scone-frontend"},
	}
	out, err := json.Marshal(img)
	if err != nil {
		return nil, fmt.Errorf("encoding the converted image config: %w", err)
	}
	return out, nil
}
