package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

type layerFlags []string

func (l *layerFlags) String() string     { return strings.Join(*l, " ") }
func (l *layerFlags) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	var (
		out, configPath, tag, createdBy, layerOut string
		epoch                                     int64
		layers                                    layerFlags
	)
	flag.StringVar(&out, "out", "", "OCI layout directory to create (must not exist)")
	flag.StringVar(&configPath, "config", "", "image runtime config JSON (Entrypoint, Cmd, Env, ...)")
	flag.StringVar(&tag, "tag", "latest", "reference name of the image in the layout")
	flag.StringVar(&createdBy, "created-by", "scone-build images/build.sh", "history created_by prefix")
	flag.Int64Var(&epoch, "epoch", envEpoch(), "timestamp of the image (default $SOURCE_DATE_EPOCH or 0)")
	flag.Var(&layers, "layer", "dir:ROOT, diff:BASE:NEW or gz:LAYER.tar.gz (repeatable, bottom first)")
	flag.StringVar(&layerOut, "write-layer", "", "only write the single -layer as a gzip layer file to this path")
	flag.Parse()
	if layerOut != "" {
		if len(layers) != 1 || flag.NArg() != 0 {
			fmt.Fprintln(os.Stderr, "usage: mkimage -write-layer FILE.tar.gz [-epoch N] -layer dir:ROOT|diff:BASE:NEW")
			os.Exit(2)
		}
		if err := writeLayer(layerOut, layers[0], time.Unix(epoch, 0).UTC()); err != nil {
			fmt.Fprintln(os.Stderr, "mkimage:", err)
			os.Exit(1)
		}
		return
	}
	if out == "" || configPath == "" || len(layers) == 0 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: mkimage -out DIR -config CONFIG.json [-tag T] [-epoch N] -layer dir:ROOT|diff:BASE:NEW|gz:FILE ...")
		os.Exit(2)
	}
	if err := run(out, configPath, tag, createdBy, time.Unix(epoch, 0).UTC(), layers); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func envEpoch() int64 {
	n, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func run(out, configPath, tag, createdBy string, epoch time.Time, specs []string) error {
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("creating layout %q: already exists", out)
	}
	b, err := os.ReadFile(configPath)
	if err != nil {
		return fmt.Errorf("reading config %q: %w", configPath, err)
	}
	var cfg v1.Config
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return fmt.Errorf("parsing config %q: %w", configPath, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".mkimage-*")
	if err != nil {
		return fmt.Errorf("creating work dir next to %q: %w", out, err)
	}
	defer os.RemoveAll(tmp)

	img := ociEmpty()
	for i, spec := range specs {
		kind, gz, _ := strings.Cut(spec, ":")
		if kind != "gz" {
			gz = filepath.Join(tmp, fmt.Sprintf("layer%d.tar.gz", i))
			if err := writeLayer(gz, spec, epoch); err != nil {
				return err
			}
		}
		layer, err := tarball.LayerFromFile(gz, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return fmt.Errorf("reading layer %q: %w", gz, err)
		}
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:     layer,
			MediaType: types.OCILayer,
			History: v1.History{
				Created:   v1.Time{Time: epoch},
				CreatedBy: fmt.Sprintf("%s: layer %d (%s)", createdBy, i+1, kind),
			},
		})
		if err != nil {
			return fmt.Errorf("appending layer %q: %w", spec, err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config = cfg
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return fmt.Errorf("setting image config: %w", err)
	}
	lay := filepath.Join(tmp, "layout")
	p, err := layout.Write(lay, empty.Index)
	if err != nil {
		return fmt.Errorf("creating layout %q: %w", lay, err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag,
	})); err != nil {
		return fmt.Errorf("writing image to layout %q: %w", lay, err)
	}
	if err := os.Rename(lay, out); err != nil {
		return fmt.Errorf("moving layout to %q: %w", out, err)
	}
	return nil
}

func ociEmpty() v1.Image {
	return mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
}

// layerEntries parses a -layer spec and lists its entries.
func layerEntries(spec string) ([]entry, error) {
	kind, rest, _ := strings.Cut(spec, ":")
	switch kind {
	case "dir":
		return treeEntries(rest)
	case "diff":
		base, next, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("parsing layer %q: want diff:BASE:NEW", spec)
		}
		return diffEntries(base, next)
	}
	return nil, fmt.Errorf("parsing layer %q: want dir:ROOT or diff:BASE:NEW", spec)
}

// writeLayer writes the layer spec as a gzip-compressed tar file at path.
func writeLayer(path, spec string, epoch time.Time) error {
	entries, err := layerEntries(spec)
	if err != nil {
		return err
	}
	if err := writeLayerFile(path, entries, epoch); err != nil {
		return fmt.Errorf("writing layer %q to %q: %w", spec, path, err)
	}
	return nil
}

func writeLayerFile(path string, entries []entry, epoch time.Time) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	zw, err := gzip.NewWriterLevel(f, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	if err := writeTar(zw, entries, epoch); err != nil {
		return err
	}
	return zw.Close()
}
