package e2e

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/internal/podmantest"
	"github.com/scone-build/scone-build/internal/testimages"
	"github.com/scone-build/scone-build/pkg/convert"
)

// TestProtectedVolumeSQLite: sqlite3 from the real image, converted with
// --protected-volume /srv/db, keeps a database on a host directory across
// containers, as natively: the second container reads what the first wrote
// (through sqlite's journal, fsync, fcntl locks and renames), the host
// directory holds neither the rows nor the file names, and the same runs
// natively give the same answers.
func TestProtectedVolumeSQLite(t *testing.T) {
	e := setup(t)
	const marker = "ROW-PLAINTEXT-MARKER-5d2e"
	img := testimages.Image(t, "sqlite")
	conv, _ := e.convert(t, withCommand(t, img, []string{"sqlite3", "/srv/db/app.db"}),
		convert.WithProtectedVolumes("/srv/db"), convert.WithHostArgs(true))
	id := e.load(t, conv, "sqlite-pvol")
	// natively the same command line: podman's arguments follow the entrypoint
	native := e.p.PullOCI(t, podmantest.WriteLayout(t, withCommand(t, img, []string{"sqlite3"}), "native"), "native")

	steps := []string{
		"CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('" + marker + "'), ('second');",
		"BEGIN; INSERT INTO t(v) SELECT v || '-copy' FROM t; COMMIT; DELETE FROM t WHERE v = 'second';",
		"PRAGMA integrity_check; SELECT k, v FROM t ORDER BY k; SELECT count(*) FROM t;",
	}
	run := func(image, dir string, converted bool, sql string) string {
		t.Helper()
		// converted: the host's arguments replace argv[1:] (--host-args)
		opts := podmantest.RunOpts{Network: "none", Args: []string{"/srv/db/app.db", sql}, Volumes: []string{dir + ":/srv/db"}}
		if converted {
			opts.Env = []string{"SCONE_FS_KEY_FILE=/run/secrets/scone-fs-key"}
			opts.Volumes = append(opts.Volumes, e.keyFile+":/run/secrets/scone-fs-key:ro")
		}
		out, stderr, code := e.p.Run(t, image, opts)
		if code != 0 {
			t.Fatalf("sqlite3 %q (converted %v): exit %d\n%s", sql, converted, code, stderr)
		}
		return out
	}
	nativeDir, scDir := t.TempDir(), t.TempDir()
	for _, d := range []string{nativeDir, scDir} {
		if err := os.Chmod(d, 0o777); err != nil { // the image's user writes there
			t.Fatal(err)
		}
	}
	for i, sql := range steps { // each step a new container
		want := run(native, nativeDir, false, sql)
		got := run(id, scDir, true, sql)
		if got != want {
			t.Fatalf("step %d %q: converted\n%s\nnative\n%s", i, sql, got, want)
		}
		if i == len(steps)-1 && !strings.Contains(got, marker) {
			t.Fatalf("the rows are not read back: %q", got)
		}
	}

	// What the host holds: no row, no file name.
	var files []string
	err := filepath.WalkDir(scDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(d.Name(), "app.db") {
			t.Errorf("the host sees the file name %s", p)
		}
		if d.Type().IsRegular() {
			files = append(files, strings.TrimPrefix(p, scDir))
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, s := range []string{marker, "CREATE TABLE", "SQLite format 3"} {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s holds %q in plaintext", p, s)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("the host directory holds %v: the volume was not written there", files)
	}
	t.Logf("host files of the volume: %v", files)
}
