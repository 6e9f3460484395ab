package main

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scone-build/scone-build/pkg/imageref"
	"github.com/scone-build/scone-build/pkg/inspect"
	"github.com/scone-build/scone-build/pkg/version"
)

// imageFlags are the flags every command that reads an image shares.
type imageFlags struct {
	platform string
	insecure bool
}

func (f *imageFlags) open(ctx context.Context, ref string) (v1.Image, imageref.Ref, []imageref.Option, error) {
	r, err := imageref.Parse(ref, f.insecure)
	if err != nil {
		return nil, r, nil, usageError{err}
	}
	plat := "linux/amd64"
	if f.platform != "" {
		plat = f.platform
	}
	p, err := imageref.ParsePlatform(plat)
	if err != nil {
		return nil, r, nil, usageError{err}
	}
	opts := []imageref.Option{imageref.WithPlatform(p), imageref.WithUserAgent("scone-build/" + version.String())}
	img, err := imageref.Open(ctx, r, opts...)
	return img, r, opts, err
}

func inspectLoad(img v1.Image) (*inspect.Image, error) { return inspect.Load(img) }

func (f *imageFlags) loadConverted(ctx context.Context, ref string) (*inspect.Image, error) {
	img, _, _, err := f.open(ctx, ref)
	if err != nil {
		return nil, err
	}
	return inspect.Load(img)
}
