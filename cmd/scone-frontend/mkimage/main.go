// Command mkimage builds the scone-frontend image (scripts/frontend-image.sh
// runs it): an OCI layout with one deterministic layer holding static
// /bin/scone-frontend and /bin/scone-build, and optionally pushes it.
//
//	go run ./cmd/scone-frontend/mkimage --frontend bin/scone-frontend \
//	    --scone-build bin/scone-build --out DIR [--tag TAG] [--push REF [--insecure]]
//
// It prints the image's manifest digest on stdout.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/scone-build/scone-build/internal/buildenv"
	"github.com/scone-build/scone-build/pkg/frontend"
	"github.com/scone-build/scone-build/pkg/sconeimage"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "mkimage: error: %v\n", err)
		var ue usageErr
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageErr struct{ error }

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fe := fs.String("frontend", "bin/scone-frontend", "static scone-frontend binary")
	sb := fs.String("scone-build", "bin/scone-build", "static scone-build binary (built with `make build`, runtime embedded)")
	out := fs.String("out", "", "write the image as an OCI layout into this new directory")
	tag := fs.String("tag", "scone-frontend", "org.opencontainers.image.ref.name of the image in the layout")
	push := fs.String("push", "", "also push the image to this registry reference")
	insecure := fs.Bool("insecure", false, "allow plain http for --push (local registries)")
	if err := fs.Parse(args); err != nil {
		return usageErr{err}
	}
	if fs.NArg() != 0 || (*out == "" && *push == "") {
		return usageErr{errors.New("usage: mkimage [--frontend FILE] [--scone-build FILE] --out DIR [--tag TAG] [--push REF [--insecure]]")}
	}
	created := time.Unix(0, 0).UTC()
	if t, set, err := buildenv.SourceDateEpoch(os.Getenv); err != nil {
		return usageErr{err}
	} else if set {
		created = t
	}
	var files []sconeimage.File
	for _, f := range []struct{ src, dst string }{{*fe, frontend.FrontendPath}, {*sb, frontend.SconeBuildPath}} {
		b, err := os.ReadFile(f.src)
		if err != nil {
			return fmt.Errorf("reading %q: %w", f.src, err)
		}
		files = append(files, sconeimage.File{Path: f.dst, Mode: 0o755, Data: b})
	}
	img, err := frontend.Image(files, created, frontend.DefaultPlatform())
	if err != nil {
		return err
	}
	dgst, err := img.Digest()
	if err != nil {
		return fmt.Errorf("computing the image digest: %w", err)
	}
	if *out != "" {
		if ents, err := os.ReadDir(*out); err == nil && len(ents) > 0 {
			return fmt.Errorf("writing OCI layout %q: directory is not empty", *out)
		}
		p, err := layout.Write(*out, empty.Index)
		if err != nil {
			return fmt.Errorf("writing OCI layout %q: %w", *out, err)
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": *tag,
		})); err != nil {
			return fmt.Errorf("writing image into OCI layout %q: %w", *out, err)
		}
	}
	if *push != "" {
		var opts []name.Option
		if *insecure {
			opts = append(opts, name.Insecure)
		}
		ref, err := name.ParseReference(*push, opts...)
		if err != nil {
			return usageErr{fmt.Errorf("parsing push reference %q: %w", *push, err)}
		}
		if err := remote.Write(ref, img, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return fmt.Errorf("pushing frontend image %q: %w", *push, err)
		}
	}
	fmt.Fprintln(stdout, dgst.String())
	return nil
}
