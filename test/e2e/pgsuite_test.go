package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scone-build/scone-build/internal/podmantest"
	"github.com/scone-build/scone-build/pkg/convert"
)

// PostgreSQL 15.18, the version of Debian bookworm's postgresql-15 (the
// postgres image's; TestPostgresSuite checks that they agree).
const (
	pgSourceURL = "http://deb.debian.org/debian/pool/main/p/postgresql-15/postgresql-15_15.18.orig.tar.bz2"
	pgSourceSum = "11df0df97fe3ea4ba9a791faaf39cee1d2fe571e78885b5b55d8517d27c323b4"
	pgVersion   = "15.18"
	// where the suite's C functions sit in the test image
	pgLibDir = "/regress/lib"
)

// TestPostgresSuite runs PostgreSQL's regression suite (pg_regress with
// src/test/regress/parallel_schedule: ~210 SQL scripts through psql, up to
// 20 at once, against one database: types, indexes, planner, triggers,
// large objects, COPY, prepared transactions, advisory locks, ...) against
// the postgres image's server natively and converted. pg_regress and the
// suite's C functions (regress.so, contrib/spi's autoinc.so and refint.so)
// are built from the source of the image's version; the functions go into
// the image (the converted server loads code only from the image), the
// suite's input and output directories are volumes at the
// same paths as on the host, since the server reads the suite's data
// files (COPY FROM, lo_import) and writes files psql reads back
// (lo_export). What passes and fails must be the same.
func TestPostgresSuite(t *testing.T) {
	wantSuite(t, "postgres")
	for _, tool := range []string{"tar", "bzip2", "make", "gcc", "perl", "psql"} {
		needTool(t, tool)
	}
	e := setup(t)
	src := suiteSource(t, pgSourceURL, pgSourceSum)
	build := exec.Command("sh", "-c", "./configure --without-readline --without-zlib --without-icu --without-openssl "+
		"--without-lz4 --without-zstd >configure.log 2>&1 && make -j2 -C src/backend generated-headers >make.log 2>&1 && "+
		"make -j2 -C src/test/regress pg_regress regress.so >>make.log 2>&1 && make -j2 -C contrib/spi autoinc.so refint.so >>make.log 2>&1")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		b, _ := os.ReadFile(filepath.Join(src, "make.log"))
		c, _ := os.ReadFile(filepath.Join(src, "configure.log"))
		t.Fatalf("building pg_regress and the suite's C functions: %v\n%s%s%s", err, out, lastLinesOf(string(c), 20), lastLinesOf(string(b), 30))
	}
	regress := filepath.Join(src, "src", "test", "regress")
	// pg_regress's output directory; the server writes into its results/
	// (COPY TO, lo_export) for psql to read back, made anew by each run
	out := t.TempDir()
	if err := os.Chmod(out, 0o777); err != nil {
		t.Fatal(err)
	}
	// pg-start as the entrypoint: the host's arguments go to the server
	libs := []string{filepath.Join(regress, "regress.so"), filepath.Join(src, "contrib", "spi", "autoinc.so"), filepath.Join(src, "contrib", "spi", "refint.so")}
	img := withCommand(t, pgSuiteImage(t, e.image(t, "postgres"), libs), []string{"pg-start"})
	native := e.p.PullOCI(t, podmantest.WriteLayout(t, img, "native"), "native")
	if v, _, _ := e.p.Run(t, native, podmantest.RunOpts{Network: "none", Entrypoint: []string{"postgres"}, Args: []string{"--version"}}); !strings.Contains(v, " "+pgVersion) {
		t.Fatalf("the postgres image's server is %q, the suite's source %s: update pgSourceURL, pgSourceSum and pgVersion to the image's version", strings.TrimSpace(v), pgVersion)
	}
	opts := []convert.Option{convert.WithHostArgs(true), convert.WithVolumes(regress, out), convert.WithHeapSize(2 << 30)}
	// SCONE_E2E_PG_DATA=volume: the converted server's data directory on
	// a protected volume (a host directory, encrypted and authenticated
	// by the volume shield) instead of the enclave's memory
	var convVols []string
	if os.Getenv("SCONE_E2E_PG_DATA") == "volume" {
		const data = "/var/lib/postgresql/data"
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o777); err != nil { // the image's user writes the volume's host files
			t.Fatal(err)
		}
		opts = append(opts, convert.WithProtectedVolumes(data))
		convVols = append(convVols, dir+":"+data)
	}
	conv, _ := e.convert(t, img, opts...)
	id := e.load(t, conv, "postgres-suite")
	suiteVols := []string{regress + ":" + regress + ":ro", out + ":" + out}
	run := func(what, image string, env, vols []string) []string {
		for _, d := range []string{"results", "regression.diffs", "regression.out"} {
			_ = os.RemoveAll(filepath.Join(out, d))
		}
		resDir := filepath.Join(out, "results")
		if err := os.Mkdir(resDir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(resDir, 0o777); err != nil { // past the umask: the server's user writes here
			t.Fatal(err)
		}
		port := podmantest.FreePort(t)
		// fsync off and at most 256 MB of WAL: the converted server's
		// data directory is in the enclave's memory (its ephemeral file
		// system) unless SCONE_E2E_PG_DATA=volume; both sides run alike
		args := []string{"-p", itoa(port), "-c", "fsync=off", "-c", "max_wal_size=256MB"}
		c := e.p.Start(t, image, podmantest.RunOpts{Network: "host", Args: args, Env: env, Volumes: vols})
		defer c.Stop(t, 20e9)
		started := time.Now()
		for deadline := started.Add(300 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			q := exec.Command("psql", "-h", "127.0.0.1", "-p", itoa(port), "-U", "postgres", "-X", "-A", "-t", "-c", "SELECT 1", "postgres")
			if b, err := q.Output(); err == nil && strings.TrimSpace(string(b)) == "1" {
				break
			}
			if time.Now().After(deadline) || !c.Running(t) {
				t.Fatalf("the server does not answer after %.0f s:\n%s", time.Since(started).Seconds(), c.Logs(t))
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(regress, "pg_regress"), "--host=127.0.0.1",
			"--port="+itoa(port), "--user=postgres", "--bindir=", "--inputdir="+regress, "--outputdir="+out,
			"--dlpath="+pgLibDir, "--schedule="+filepath.Join(regress, "parallel_schedule"))
		cmd.Dir = out
		began := time.Now()
		b, err := cmd.CombinedOutput()
		t.Logf("pg_regress against the %s server: %.0f s", what, time.Since(began).Seconds())
		if dir := os.Getenv("SCONE_E2E_SUITES_LOG"); dir != "" { // the output and the diffs, to read by hand
			diffs, _ := os.ReadFile(filepath.Join(out, "regression.diffs"))
			if err := os.WriteFile(filepath.Join(dir, "postgres-"+itoa(port)+".log"), append(b, diffs...), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		res := pgResults(string(b))
		// pg_regress fails when any test does; most must pass
		if countPrefix(res, "ok ") < 150 {
			t.Fatalf("pg_regress did not run through (%v):\n%s\nserver log:\n%s", err, lastLinesOf(string(b), 40), lastLinesOf(c.Logs(t), 40))
		}
		if !c.Running(t) {
			t.Fatalf("the server exited:\n%s", c.Logs(t))
		}
		return res
	}
	want := run("native", native, nil, suiteVols)
	got := run("converted", id, []string{"SCONE_FS_KEY_FILE=/run/secrets/scone-fs-key"},
		append(append(suiteVols, convVols...), e.keyFile+":/run/secrets/scone-fs-key:ro"))
	compareResults(t, "PostgreSQL's regression suite", want, got)
	t.Logf("PostgreSQL's regression suite: %d ok, %d failed, identical native and converted",
		countPrefix(got, "ok "), countPrefix(got, "FAILED "))
}

// pgResultLine: a test's line in pg_regress's output ("test NAME ... ok
// 12 ms", or "     NAME ... FAILED" in a parallel group).
var pgResultLine = regexp.MustCompile(`^(?:test |     )(\S+)\s+\.\.\. (ok|FAILED|failed \(ignored\))`)

// pgResults are pg_regress's results as "ok NAME" / "FAILED NAME" lines,
// sorted.
func pgResults(out string) []string {
	var res []string
	for _, l := range strings.Split(out, "\n") {
		if m := pgResultLine.FindStringSubmatch(strings.TrimRight(l, "\r")); m != nil {
			res = append(res, m[2]+" "+m[1])
		}
	}
	sort.Strings(res)
	return res
}

// pgSuiteImage is base with the suite's C functions (regress.so, and
// contrib/spi's autoinc.so and refint.so for the triggers test) in
// pgLibDir.
func pgSuiteImage(t *testing.T, base v1.Image, libs []string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, l := range libs {
		addTree(t, tw, l, filepath.Join(pgLibDir, filepath.Base(l)), 0)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return appendTar(t, base, buf.Bytes())
}
