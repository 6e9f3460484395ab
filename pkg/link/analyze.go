package link

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"sync"
)

// Scope selects which files Analyze analyses.
type Scope int

const (
	// ScopeImage analyses every ELF file in the image (the default).
	ScopeImage Scope = iota
	// ScopeEntrypoint analyses only the entrypoint, its interpreter and its
	// dependency closure.
	ScopeEntrypoint
)

// Option configures Analyze.
type Option func(*options)

type options struct {
	workers     int
	scope       Scope
	maxFileSize int64
	imports     bool
}

func defaultOptions() options {
	return options{workers: runtime.GOMAXPROCS(0), scope: ScopeImage, maxFileSize: 1 << 30, imports: true}
}

// WithImports selects whether Binary.Imports is filled (default true). The
// imported symbols are the bulk of a report's JSON; features and findings
// do not depend on this option.
func WithImports(on bool) Option { return func(o *options) { o.imports = on } }

// WithWorkers bounds the number of files analysed in parallel (default
// GOMAXPROCS). n must be at least 1.
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithScope selects ScopeImage (default) or ScopeEntrypoint.
func WithScope(s Scope) Option { return func(o *options) { o.scope = s } }

// WithMaxFileSize bounds how much of a file that is not an io.ReaderAt is
// read into memory (default 1 GiB). Larger files are reported as
// unreadable.
func WithMaxFileSize(n int64) Option { return func(o *options) { o.maxFileSize = n } }

func (o *options) validate() error {
	if o.workers < 1 {
		return fmt.Errorf("invalid option: workers %d, want at least 1", o.workers)
	}
	if o.scope != ScopeImage && o.scope != ScopeEntrypoint {
		return fmt.Errorf("invalid option: unknown scope %d", o.scope)
	}
	if o.maxFileSize < 64 {
		return fmt.Errorf("invalid option: max file size %d, want at least 64", o.maxFileSize)
	}
	return nil
}

// Analyze analyses the image fsys for the entrypoint entry: it resolves the
// entrypoint (PATH, "#!" scripts), analyses the ELF files in scope in
// parallel, resolves every executable's dependency closure inside the image
// as the dynamic loader would, and returns the report.
//
// Errors: ErrNoEntrypoint when entry.Argv is empty; ErrEntrypointNotFound
// (wrapped) when argv[0] or a script interpreter is not in the image;
// ErrNotELF (wrapped) when the entrypoint is neither ELF nor a script; a
// *FormatError (wrapped) when the entrypoint is a malformed ELF file; the
// context's error when ctx is done. An unsupported entrypoint (e.g. aarch64)
// is not an error of Analyze: see Report.Verdict and Report.Err.
func Analyze(ctx context.Context, fsys FS, entry Entry, opts ...Option) (*Report, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if fsys == nil {
		return nil, errors.New("analyze image: nil file system")
	}
	if len(entry.Argv) == 0 {
		return nil, ErrNoEntrypoint
	}
	im := newImage(fsys, &o, entry)
	info, progReal, entryFindings, err := im.resolveEntry(entry)
	if err != nil {
		return nil, err
	}
	eo := im.load(progReal)
	if eo.b == nil {
		return nil, fmt.Errorf("analyze entrypoint %q: %w", info.Program, eo.err)
	}
	if eo.b.Error != "" {
		return nil, eo.err
	}
	if k := eo.b.Kind; k != KindExecutable && k != KindSharedLibrary {
		entryFindings = append(entryFindings, notExecutable(eo.b, SeverityUnsupported))
	}

	// Which files.
	var names []string
	if o.scope == ScopeImage {
		names, err = walkFiles(ctx, fsys)
		if err != nil {
			return nil, err
		}
	} else {
		names = []string{progReal}
		c := im.closure(eo, progReal, true)
		if c.plan.Interpreter != "" {
			names = append(names, toFSPath(c.plan.Interpreter))
		}
		for _, l := range c.plan.Libraries {
			if r, err := im.resolve(l.Path); err == nil {
				names = append(names, r)
			}
		}
	}

	// Analyse, then resolve closures, both with a bounded pool.
	if err := parallel(ctx, o.workers, names, func(n string) { im.load(n) }); err != nil {
		return nil, err
	}
	var bins []string
	seen := map[string]bool{}
	for _, n := range append(names, progReal) {
		if ob := im.load(n); ob.b != nil && !seen[n] {
			seen[n] = true
			bins = append(bins, n)
		}
	}
	if err := parallel(ctx, o.workers, bins, func(n string) { im.finalize(n) }); err != nil {
		return nil, err
	}

	r := &Report{Entry: info, Entrypoint: eo.b, Binaries: make([]*Binary, 0, len(bins))}
	for _, n := range bins {
		r.Binaries = append(r.Binaries, im.load(n).b)
	}
	sort.Slice(r.Binaries, func(i, j int) bool { return r.Binaries[i].Path < r.Binaries[j].Path })
	r.Findings = append(append([]Finding{}, entryFindings...), eo.b.Findings...)
	sortFindings(r.Findings)
	r.Verdict = verdictOf(r.Findings)
	return r, nil
}

// walkFiles lists the regular files of the image (symbolic links are not
// followed: the files they point to are listed themselves).
func walkFiles(ctx context.Context, fsys FS) ([]string, error) {
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() && p != "." {
				return fs.SkipDir // unreadable directory: skip it
			}
			if p == "." {
				return err
			}
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk image: %w", err)
	}
	return names, nil
}

// parallel runs f on every name with at most workers goroutines.
func parallel(ctx context.Context, workers int, names []string, f func(string)) error {
	ch := make(chan string)
	var wg sync.WaitGroup
	for range min(workers, max(len(names), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range ch {
				if ctx.Err() == nil {
					f(n)
				}
			}
		}()
	}
	for _, n := range names {
		if ctx.Err() != nil {
			break
		}
		ch <- n
	}
	close(ch)
	wg.Wait()
	return ctx.Err()
}

// finalize adds the closure to the binary at real: load plan, missing
// libraries and their findings. It runs once per binary.
func (im *image) finalize(real string) {
	o := im.load(real)
	b := o.b
	if b == nil {
		return
	}
	findings := append([]Finding(nil), o.own...)
	if b.Error == "" && isX8664(b) {
		switch b.Kind {
		case KindExecutable:
			c := im.closure(o, real, true)
			b.LoadPlan = c.plan
			b.Missing = c.missing
			findings = append(findings, c.findings...)
		case KindSharedLibrary:
			// Alone, a library's dependencies may be missing only because
			// the executable's RPATH or an earlier library provides them:
			// a caveat here, unsupported for executables.
			c := im.closure(o, real, false)
			b.Missing = c.missing
			for _, f := range c.findings {
				switch {
				case f.Code == CodeMissingLibrary:
					f.Severity = SeverityCaveat
					f.Message += " (searched from this library alone: the executable's RPATH or a library loaded earlier may provide it)"
					findings = append(findings, f)
				case f.Severity == SeverityUnsupported:
					findings = append(findings, f)
				}
			}
		}
	}
	sortFindings(findings)
	if findings == nil {
		findings = []Finding{}
	}
	b.Findings = findings
	b.Verdict = verdictOf(findings)
}
