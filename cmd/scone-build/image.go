package main

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/scone-build/scone-build/pkg/imageref"
	"github.com/scone-build/scone-build/pkg/inspect"
	"github.com/scone-build/scone-build/pkg/version"
)

// imageFlags are the flags every command that reads an image shares.
type imageFlags struct {
	platform string
	insecure bool
}

// addTo registers --platform and --insecure.
func (f *imageFlags) addTo(fs *pflag.FlagSet) {
	fs.StringVar(&f.platform, "platform", "linux/amd64", "platform to pick from a multi-platform image")
	fs.BoolVar(&f.insecure, "insecure", false, "allow plain http to registries other than localhost")
}

// ref parses an image reference (usage error when malformed).
func (f *imageFlags) ref(s string) (imageref.Ref, error) {
	r, err := imageref.Parse(s, f.insecure)
	if err != nil {
		return r, usageError{err}
	}
	return r, nil
}

// options are the imageref options the flags select.
func (f *imageFlags) options() ([]imageref.Option, error) {
	plat := "linux/amd64"
	if f.platform != "" {
		plat = f.platform
	}
	p, err := imageref.ParsePlatform(plat)
	if err != nil {
		return nil, usageError{err}
	}
	return []imageref.Option{imageref.WithPlatform(p), imageref.WithUserAgent("scone-build/" + version.String())}, nil
}

func (f *imageFlags) open(ctx context.Context, ref string) (v1.Image, imageref.Ref, []imageref.Option, error) {
	r, err := f.ref(ref)
	if err != nil {
		return nil, r, nil, err
	}
	opts, err := f.options()
	if err != nil {
		return nil, r, nil, err
	}
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
