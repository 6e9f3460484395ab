package e2e

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/scone-build/scone-build/internal/podmantest"
	"github.com/scone-build/scone-build/pkg/convert"
)

// A database server image whose data directory becomes a protected volume
// (TestProtectedVolumePostgres, TestProtectedVolumeMariaDB).
type dbVolume struct {
	image  string // testimages name
	data   string // the data directory in the image: the protected volume
	port   string // the server's port in the container
	client func(port int, sql string) []string
	// names the host directory must not show (the database's file names)
	names []string
	// what must not be in any host file in clear, besides the steps' marker
	clear []string
}

// dbRun is a started database container.
type dbRun struct {
	ctr  *podmantest.Container
	port int
}

// run runs the steps' SQL, each in a new container on the same host
// directory, natively and converted, and requires the same answers; after
// the last converted step, more(run) may load the converted server. Then
// the host directory of the converted runs must hold neither marker nor
// names in clear.
func (db dbVolume) run(t *testing.T, e *env, marker string, steps []string, more func(native string, r dbRun)) {
	img := e.image(t, db.image)
	conv, _ := e.convert(t, img, convert.WithProtectedVolumes(db.data), convert.WithHostArgs(true))
	id := e.load(t, conv, db.image+"-pvol")
	native := e.p.PullOCI(t, podmantest.WriteLayout(t, img, "native"), "native")
	uid, gid := imageUser(t, img)

	query := func(port int, sql string) (string, int) {
		t.Helper()
		return db.query(t, e, native, port, sql)
	}
	start := func(image, dir string, converted bool) dbRun {
		t.Helper()
		port := podmantest.FreePort(t)
		opts := podmantest.RunOpts{Volumes: []string{dir + ":" + db.data}, Ports: []string{"127.0.0.1:" + itoa(port) + ":" + db.port}}
		if converted {
			opts.Env = []string{"SCONE_FS_KEY_FILE=/run/secrets/scone-fs-key"}
			opts.Volumes = append(opts.Volumes, e.keyFile+":/run/secrets/scone-fs-key:ro")
		}
		ctr := e.p.Start(t, image, opts)
		// the first start initializes the data directory: wait until the
		// server answers. Converted, mariadb-install-db took 20-60 s alone
		// and over 120 s once on CI with the other packages' tests loading
		// both cores; a server that stops is seen at once below.
		started := time.Now()
		for deadline := started.Add(300 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			if out, code := query(port, "SELECT 1"); code == 0 && strings.TrimSpace(out) == "1" {
				t.Logf("%s (converted %v) answered after %.1f s", db.image, converted, time.Since(started).Seconds())
				break
			}
			if time.Now().After(deadline) || !ctr.Running(t) {
				t.Fatalf("%s (converted %v) does not answer after %.0f s:\n%s\nits threads:\n%s", db.image, converted,
					time.Since(started).Seconds(), ctr.Logs(t), ctr.Threads(t))
			}
		}
		return dbRun{ctr, port}
	}

	nativeDir, scDir := t.TempDir(), t.TempDir()
	if err := os.Chown(nativeDir, uid, gid); err != nil {
		t.Skipf("cannot give the native data directory to the image's user %d:%d (the native comparison needs root): %v", uid, gid, err)
	}
	if err := os.Chmod(scDir, 0o777); err != nil { // the image's user writes the volume's host files
		t.Fatal(err)
	}
	for i, sql := range steps {
		n := start(native, nativeDir, false)
		want, code := query(n.port, sql)
		n.ctr.Stop(t, 20e9)
		if code != 0 {
			t.Fatalf("step %d natively: exit %d\n%s", i, code, want)
		}
		r := start(id, scDir, true)
		got, code := query(r.port, sql)
		if code != 0 || got != want {
			r.ctr.Stop(t, 20e9)
			t.Fatalf("step %d converted: exit %d\n%s\nnatively:\n%s\nlog:\n%s", i, code, got, want, r.ctr.Logs(t))
		}
		t.Logf("step %d: %q", i, got)
		if i == len(steps)-1 && more != nil {
			more(native, r)
		}
		if exit := r.ctr.Stop(t, 20e9); exit != 0 {
			t.Fatalf("step %d: the converted server exited %d when stopped (a clean shutdown exits 0):\n%s", i, exit, r.ctr.Logs(t))
		}
	}
	err := filepath.WalkDir(scDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		for _, s := range append([]string{marker}, db.clear...) {
			if err == nil && bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q in clear", p, s)
			}
		}
		rel, _ := filepath.Rel(scDir, p)
		for _, name := range db.names {
			if strings.Contains(rel, name) {
				t.Errorf("the host sees the file name %s", p)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// query runs sql with the client of the native image (host network) against
// the server at port: its output (stdout and stderr) and exit code.
func (db dbVolume) query(t *testing.T, e *env, native string, port int, sql string) (string, int) {
	t.Helper()
	out, errOut, code := e.p.Run(t, native, podmantest.RunOpts{Network: "host", Args: db.client(port, sql)})
	return out + errOut, code
}

// imageUser is the numeric uid:gid of the image's configured user.
func imageUser(t *testing.T, img v1.Image) (int, int) {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	u, g, ok := strings.Cut(cfg.Config.User, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil || uid == 0 {
		t.Fatalf("the image's user is %q, want a numeric uid:gid other than root", cfg.Config.User)
	}
	return uid, gid
}
