package imageref

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Option configures Open and Write.
type Option func(*options)

type options struct {
	platform  v1.Platform
	keychain  authn.Keychain
	transport http.RoundTripper
	ctx       context.Context
	userAgent string
}

// WithPlatform selects the image of a multi-platform index (default linux/amd64).
func WithPlatform(p v1.Platform) Option { return func(o *options) { o.platform = p } }

// WithKeychain sets the registry credentials source (default: the docker/podman
// config files, as authn.DefaultKeychain reads them).
func WithKeychain(k authn.Keychain) Option { return func(o *options) { o.keychain = k } }

// WithTransport sets the HTTP transport used for registries (tests use it).
func WithTransport(t http.RoundTripper) Option { return func(o *options) { o.transport = t } }

// WithUserAgent sets the User-Agent sent to registries.
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

func makeOptions(ctx context.Context, opts []Option) (*options, error) {
	o := &options{
		platform: v1.Platform{OS: "linux", Architecture: "amd64"},
		keychain: authn.DefaultKeychain,
		ctx:      ctx,
	}
	for _, f := range opts {
		f(o)
	}
	if o.platform.OS == "" || o.platform.Architecture == "" {
		return nil, fmt.Errorf("checking platform %q: %w", o.platform.String(), ErrUnsupportedPlatform)
	}
	if o.platform.OS != "linux" || o.platform.Architecture != "amd64" {
		return nil, &PlatformError{Want: o.platform.String(), Reason: "SGX enclaves exist only on linux/amd64 (x86-64)"}
	}
	return o, nil
}

func (o *options) remote() []remote.Option {
	r := []remote.Option{remote.WithContext(o.ctx), remote.WithAuthFromKeychain(o.keychain), remote.WithPlatform(o.platform)}
	if o.transport != nil {
		r = append(r, remote.WithTransport(o.transport))
	}
	if o.userAgent != "" {
		r = append(r, remote.WithUserAgent(o.userAgent))
	}
	return r
}

// ParsePlatform parses "os/arch[/variant]".
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" || strings.Count(s, "/") < 1 {
		return v1.Platform{}, fmt.Errorf("parsing platform %q: want OS/ARCH such as linux/amd64", s)
	}
	return *p, nil
}
