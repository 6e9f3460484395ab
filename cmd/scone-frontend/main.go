// Command scone-frontend is scone-build's BuildKit gateway frontend. It is the
// entrypoint of the frontend image (scripts/frontend-image.sh builds it):
// BuildKit runs it with no arguments when a Dockerfile starts with
// `# syntax=<frontend image>`. See docs/frontend.md.
//
// `scone-frontend fingerprint --key SIGNER --fs-key FSKEY --out FILE` is the
// helper the frontend runs as a build step to compute the non-secret key
// fingerprint that keys BuildKit's cache.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/moby/buildkit/frontend/gateway/grpcclient"
	"github.com/moby/buildkit/util/appcontext"

	"github.com/scone-build/scone-build/internal/buildenv"
	"github.com/scone-build/scone-build/pkg/frontend"
	"github.com/scone-build/scone-build/pkg/version"
)

func main() {
	if p, ok := buildenv.GCPercent(os.Getenv); ok {
		debug.SetGCPercent(p)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		if os.Getenv("BUILDKIT_SESSION_ID") == "" {
			fmt.Fprintln(stderr, "scone-frontend: error: not started by BuildKit (BUILDKIT_SESSION_ID is unset)")
			fmt.Fprintln(stderr, "  hint: use the frontend image in a Dockerfile's first line: # syntax=IMAGE (see docs/frontend.md)")
			return 2
		}
		if err := grpcclient.RunFromEnvironment(appcontext.Context(), frontend.Build); err != nil {
			fmt.Fprintf(stderr, "scone-frontend: error: %v\n", err)
			return 1
		}
		return 0
	}
	switch args[0] {
	case "fingerprint":
		return fingerprint(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "scone-frontend %s\n", version.String())
		return 0
	default:
		fmt.Fprintf(stderr, "scone-frontend: error: unknown command %q (run with no arguments under BuildKit, or: fingerprint, version)\n", args[0])
		return 2
	}
}

func fingerprint(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fingerprint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	key := fs.String("key", "", "signer key (PEM)")
	fsKey := fs.String("fs-key", "", "FS key file")
	out := fs.String("out", "", "write the fingerprint to this file instead of stdout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *key == "" || *fsKey == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "scone-frontend: error: usage: scone-frontend fingerprint --key SIGNER --fs-key FSKEY [--out FILE]")
		return 2
	}
	for _, p := range []string{*key, *fsKey} {
		if _, err := os.Stat(p); err != nil {
			id := filepath.Base(p)
			fmt.Fprintf(stderr, "scone-frontend: error: BuildKit secret %q is missing: %v\n", id, err)
			fmt.Fprintf(stderr, "  hint: give both keys as secrets: buildctl build ... --secret id=%s,src=SIGNER.pem --secret id=%s,src=FS.key\n",
				frontend.SignerSecretID, frontend.FSKeySecretID)
			fmt.Fprintf(stderr, "  hint: (docker buildx build takes the same --secret flags)\n")
			return 5
		}
	}
	fp, err := frontend.FingerprintFiles(*key, *fsKey)
	if err != nil {
		fmt.Fprintf(stderr, "scone-frontend: error: %v\n", err)
		return 5
	}
	if *out == "" {
		fmt.Fprintln(stdout, fp)
		return 0
	}
	if err := os.WriteFile(*out, []byte(fp), 0o644); err != nil {
		fmt.Fprintf(stderr, "scone-frontend: error: writing fingerprint %q: %v\n", *out, err)
		return 7
	}
	return 0
}
