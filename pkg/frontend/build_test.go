package frontend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	fstypes "github.com/tonistiigi/fsutil/types"
)

// fakeRef is a solved reference holding a few files.
type fakeRef struct {
	files map[string][]byte
}

func (r *fakeRef) ToState() (llb.State, error) {
	return llb.Image("docker.io/library/dockerfile-result:latest"), nil
}
func (r *fakeRef) Evaluate(context.Context) error { return nil }
func (r *fakeRef) ReadFile(_ context.Context, req client.ReadRequest) ([]byte, error) {
	if b, ok := r.files[req.Filename]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("reading %q: %w", req.Filename, os.ErrNotExist)
}
func (r *fakeRef) StatFile(context.Context, client.StatRequest) (*fstypes.Stat, error) {
	return nil, errors.New("not implemented")
}
func (r *fakeRef) ReadDir(context.Context, client.ReadDirRequest) ([]*fstypes.Stat, error) {
	return nil, errors.New("not implemented")
}

// fakeClient answers the frontend's solves without BuildKit: the Dockerfile
// solve returns a prepared result, LLB solves are decoded and recorded.
type fakeClient struct {
	opts      map[string]string
	delegated *client.Result
	frontend  []client.SolveRequest
	execs     []*pb.ExecOp
	copies    int
}

func (c *fakeClient) CurrentFrontend() (*llb.State, error) {
	st := llb.Image("docker.io/library/scone-frontend:test")
	return &st, nil
}

func (c *fakeClient) Solve(ctx context.Context, req client.SolveRequest) (*client.Result, error) {
	if req.Frontend != "" {
		c.frontend = append(c.frontend, req)
		return c.delegated, nil
	}
	var execs []*pb.ExecOp
	var mkfile []byte
	var copies int
	for _, dt := range req.Definition.Def {
		var op pb.Op
		if err := op.UnmarshalVT(dt); err != nil {
			return nil, err
		}
		if e := op.GetExec(); e != nil {
			execs = append(execs, e)
		}
		if f := op.GetFile(); f != nil {
			for _, a := range f.Actions {
				if m := a.GetMkfile(); m != nil {
					mkfile = m.Data
				}
				if a.GetCopy() != nil {
					copies++
				}
			}
		}
	}
	res := client.NewResult()
	switch {
	case copies > 0:
		c.copies += copies
		res.SetRef(&fakeRef{})
	case len(execs) == 1 && slices.Contains(execs[0].Meta.Args, "fingerprint"):
		c.execs = append(c.execs, execs[0])
		res.SetRef(&fakeRef{files: map[string][]byte{"/fingerprint": []byte("v1 test-fingerprint")}})
	case len(execs) == 1 && slices.Contains(execs[0].Meta.Args, "convert"):
		c.execs = append(c.execs, execs[0])
		var src struct {
			Architecture string `json:"architecture"`
		}
		if err := json.Unmarshal(mkfile, &src); err != nil {
			return nil, fmt.Errorf("source config %q: %w", mkfile, err)
		}
		out := fmt.Sprintf(`{"architecture":%q,"os":"linux","config":{"Entrypoint":["/scone/bin/scone-run"]},"rootfs":{"type":"layers","diff_ids":["sha256:00"]}}`, src.Architecture)
		res.SetRef(&fakeRef{files: map[string][]byte{"/image/config.json": []byte(out)}})
	default:
		return nil, fmt.Errorf("unexpected definition: %d execs, %d copies", len(execs), copies)
	}
	return res, nil
}

func (c *fakeClient) ResolveImageConfig(context.Context, string, sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	return "", "", nil, errors.New("not implemented")
}
func (c *fakeClient) ResolveSourceMetadata(context.Context, *pb.SourceOp, sourceresolver.Opt) (*sourceresolver.MetaResponse, error) {
	return nil, errors.New("not implemented")
}
func (c *fakeClient) BuildOpts() client.BuildOpts {
	return client.BuildOpts{Opts: c.opts, Caps: gwpb.Caps.CapSet(gwpb.Caps.All())}
}
func (c *fakeClient) Inputs(context.Context) (map[string]llb.State, error) { return nil, nil }
func (c *fakeClient) NewContainer(context.Context, client.NewContainerRequest) (client.Container, error) {
	return nil, errors.New("not implemented")
}
func (c *fakeClient) Warn(context.Context, digest.Digest, string, client.WarnOpts) error { return nil }

var _ client.Client = (*fakeClient)(nil)

func TestBuildSinglePlatform(t *testing.T) {
	del := client.NewResult()
	del.SetRef(&fakeRef{})
	del.AddMeta(exptypes.ExporterImageConfigKey, []byte(`{"architecture":"amd64","os":"linux"}`))
	del.AddMeta("other", []byte("kept"))
	c := &fakeClient{delegated: del, opts: map[string]string{
		"source": "scone-frontend", "cmdline": "scone-frontend", "scone-heap": "1M",
		"build-arg:SOURCE_DATE_EPOCH": "1700000000",
	}}
	res, err := Build(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.frontend) != 1 || c.frontend[0].Frontend != "dockerfile.v0" {
		t.Fatalf("delegated solves: %+v", c.frontend)
	}
	fo := c.frontend[0].FrontendOpt
	if _, ok := fo["source"]; ok || fo["cmdline"] == "" || fo["scone-heap"] != "" {
		t.Errorf("delegated options %v: want no source, no scone-*, a cmdline", fo)
	}
	if len(c.execs) != 2 {
		t.Fatalf("%d exec steps, want fingerprint + convert", len(c.execs))
	}
	fpExec, conv := c.execs[0], c.execs[1]
	want := append(ConvertCommand(), "--heap=1M")
	if !slices.Equal(conv.Meta.Args, want) {
		t.Errorf("convert args %q, want %q", conv.Meta.Args, want)
	}
	if !slices.Contains(conv.Meta.Env, FingerprintEnv+"=v1 test-fingerprint") || !slices.Contains(conv.Meta.Env, "SOURCE_DATE_EPOCH=1700000000") {
		t.Errorf("convert env %q lacks the fingerprint or SOURCE_DATE_EPOCH", conv.Meta.Env)
	}
	for _, e := range []*pb.ExecOp{fpExec, conv} {
		if e.Network != pb.NetMode_NONE {
			t.Errorf("%q runs with network %v, want none", e.Meta.Args[:2], e.Network)
		}
		secrets := map[string]string{}
		for _, m := range e.Mounts {
			if m.MountType == pb.MountType_SECRET {
				secrets[m.Dest] = m.SecretOpt.ID
				if m.SecretOpt.Optional != (e == fpExec) {
					t.Errorf("%q: secret %s optional=%v", e.Meta.Args[:2], m.Dest, m.SecretOpt.Optional)
				}
			}
			if m.Dest == "/in" && !m.Readonly {
				t.Error("/in is writable")
			}
		}
		if secrets[signerPath] != SignerSecretID || secrets[fsKeyPath] != FSKeySecretID {
			t.Errorf("%q: secret mounts %v", e.Meta.Args[:2], secrets)
		}
	}
	if res.Ref == nil || c.copies != 2 {
		t.Errorf("result ref %v, %d copies (want runtime + enclave layer)", res.Ref, c.copies)
	}
	var cfg map[string]any
	if err := json.Unmarshal(res.Metadata[exptypes.ExporterImageConfigKey], &cfg); err != nil {
		t.Fatal(err)
	}
	if h, _ := cfg["history"].([]any); len(h) != 2 {
		t.Errorf("config history %v, want 2 entries", cfg["history"])
	}
	if string(res.Metadata["other"]) != "kept" {
		t.Error("other metadata dropped")
	}
}

func TestBuildMultiPlatform(t *testing.T) {
	del := client.NewResult()
	for _, p := range []string{"linux/amd64", "linux/386"} {
		del.AddRef(p, &fakeRef{})
		arch := strings.TrimPrefix(p, "linux/")
		del.AddMeta(exptypes.ExporterImageConfigKey+"/"+p, []byte(`{"architecture":"`+arch+`","os":"linux"}`))
	}
	c := &fakeClient{delegated: del, opts: map[string]string{"source": "scone-frontend"}}
	res, err := Build(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Refs) != 2 {
		t.Fatalf("%d refs, want 2", len(res.Refs))
	}
	for _, p := range []string{"linux/amd64", "linux/386"} {
		var cfg struct {
			Architecture string `json:"architecture"`
		}
		if err := json.Unmarshal(res.Metadata[exptypes.ExporterImageConfigKey+"/"+p], &cfg); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if "linux/"+cfg.Architecture != p {
			t.Errorf("config for %s has architecture %q", p, cfg.Architecture)
		}
	}
}

func TestBuildSubrequestIsDelegated(t *testing.T) {
	del := client.NewResult()
	del.AddMeta("result.json", []byte(`{}`))
	c := &fakeClient{delegated: del, opts: map[string]string{"source": "x", "requestid": "frontend.outline"}}
	res, err := Build(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if res != del || len(c.execs) != 0 {
		t.Fatalf("subrequest converted (%d execs)", len(c.execs))
	}
}

func TestBuildRejectsReservedOption(t *testing.T) {
	c := &fakeClient{opts: map[string]string{"scone-key": "/x"}}
	if _, err := Build(context.Background(), c); !errors.Is(err, ErrReservedOption) {
		t.Fatalf("err = %v, want ErrReservedOption", err)
	}
	if len(c.frontend) != 0 {
		t.Fatal("built the Dockerfile before rejecting the options")
	}
}
