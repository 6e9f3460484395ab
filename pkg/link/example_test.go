package link_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/scone-build/scone-build/pkg/link"
)

// Analyse an unpacked image root and refuse an unsupported entrypoint, as
// the convert pipeline does without --force.
func ExampleAnalyze() {
	root, err := link.OpenDir("/path/to/rootfs")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer root.Close()
	entry := link.Entry{
		Argv: []string{"nginx", "-g", "daemon off;"},
		Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
	}
	r, err := link.Analyze(context.Background(), root, entry, link.WithScope(link.ScopeEntrypoint))
	if errors.Is(err, link.ErrEntrypointNotFound) {
		fmt.Println("fix the image's Entrypoint/Cmd:", err)
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range r.Findings {
		fmt.Printf("%s: %s\n  fix: %s\n", f.Severity, f.Message, f.Fix)
	}
	var ie *link.IncompatibleError
	if errors.As(r.Err(), &ie) {
		fmt.Println("refusing:", ie)
		return
	}
	fmt.Println("load plan:", r.Entrypoint.LoadPlan)
}
