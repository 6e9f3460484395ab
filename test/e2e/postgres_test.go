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

	"github.com/scone-build/scone-build/internal/podmantest"
	"github.com/scone-build/scone-build/internal/testimages"
	"github.com/scone-build/scone-build/pkg/convert"
)

// TestProtectedVolumePostgres: PostgreSQL 15 of the real image (Debian's
// packages), converted with --protected-volume on its data directory, runs
// initdb and the server in the enclave: the postmaster forks a process per
// connection plus its checkpointer, WAL writer and background writer, all
// writing the one data directory on the volume, and shares memory and
// semaphores with them. A client container (psql of the native image)
// gets the same answers as from the native server, in a first container
// and in a second one on the same host directory; pgbench's concurrent
// transactions all commit; the host directory holds neither rows nor file
// names in clear.
func TestProtectedVolumePostgres(t *testing.T) {
	e := setup(t)
	const (
		marker = "OWNER-PLAINTEXT-MARKER-93ab"
		data   = "/var/lib/postgresql/data"
	)
	img := testimages.Image(t, "postgres")
	conv, _ := e.convert(t, img, convert.WithProtectedVolumes(data), convert.WithHostArgs(true))
	id := e.load(t, conv, "postgres-pvol")
	native := e.p.PullOCI(t, podmantest.WriteLayout(t, img, "native"), "native")
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	// natively the data directory must belong to the image's user
	var uid, gid int
	if u, g, ok := strings.Cut(cfg.Config.User, ":"); ok {
		uid, _ = strconv.Atoi(u)
		gid, _ = strconv.Atoi(g)
	}
	if uid == 0 {
		t.Fatalf("the postgres image's user is %q, want uid:gid", cfg.Config.User)
	}

	psql := func(port int, sql string) (string, int) {
		t.Helper()
		out, errOut, code := e.p.Run(t, native, podmantest.RunOpts{Network: "host",
			Args: []string{"psql", "-h", "127.0.0.1", "-p", itoa(port), "-U", "postgres", "-X", "-q", "-A", "-t",
				"-v", "ON_ERROR_STOP=1", "-c", sql}})
		return out + errOut, code
	}
	start := func(image, dir string, converted bool) (*podmantest.Container, int) {
		t.Helper()
		port := podmantest.FreePort(t)
		opts := podmantest.RunOpts{Volumes: []string{dir + ":" + data}, Ports: []string{"127.0.0.1:" + itoa(port) + ":5432"}}
		if converted {
			opts.Env = []string{"SCONE_FS_KEY_FILE=/run/secrets/scone-fs-key"}
			opts.Volumes = append(opts.Volumes, e.keyFile+":/run/secrets/scone-fs-key:ro")
		}
		ctr := e.p.Start(t, image, opts)
		// initdb on the first start, then the server: wait until it answers
		for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(300 * time.Millisecond) {
			if out, code := psql(port, "SELECT 1"); code == 0 && strings.TrimSpace(out) == "1" {
				break
			}
			if time.Now().After(deadline) || !ctr.Running(t) {
				t.Fatalf("postgres (converted %v) does not answer:\n%s", converted, ctr.Logs(t))
			}
		}
		return ctr, port
	}

	steps := []string{
		"CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL);" +
			"INSERT INTO accounts SELECT g, 'owner-' || g || '-" + marker + "', 1000 FROM generate_series(1, 2000) g;" +
			"BEGIN; UPDATE accounts SET balance = balance - 250 WHERE id = 1; UPDATE accounts SET balance = balance + 250 WHERE id = 2; COMMIT;" +
			"CREATE INDEX accounts_owner ON accounts (owner);" +
			"SELECT count(*), sum(balance) FROM accounts;",
		"SELECT count(*), sum(balance), min(owner) FROM accounts;" +
			"SELECT id, balance FROM accounts WHERE id <= 3 ORDER BY id;" +
			"SELECT count(*) FROM accounts WHERE owner LIKE 'owner-17%';",
	}
	nativeDir, scDir := t.TempDir(), t.TempDir()
	if err := os.Chown(nativeDir, uid, gid); err != nil {
		t.Skipf("cannot give the native data directory to the image's user %d:%d (the native comparison needs root): %v", uid, gid, err)
	}
	if err := os.Chmod(scDir, 0o777); err != nil { // the image's user writes the volume's host files
		t.Fatal(err)
	}
	for i, sql := range steps { // a new container each
		nctr, nport := start(native, nativeDir, false)
		want, code := psql(nport, sql)
		nctr.Stop(t, 20e9)
		if code != 0 {
			t.Fatalf("step %d natively: exit %d\n%s", i, code, want)
		}
		ctr, port := start(id, scDir, true)
		got, code := psql(port, sql)
		if code != 0 || got != want {
			ctr.Stop(t, 20e9)
			t.Fatalf("step %d converted: exit %d\n%s\nnatively:\n%s\nlog:\n%s", i, code, got, want, ctr.Logs(t))
		}
		t.Logf("step %d: %q", i, got)
		if i == 1 {
			// concurrent transactions: four clients on four backends
			bench := func(args ...string) string {
				t.Helper()
				out, errOut, code := e.p.Run(t, native, podmantest.RunOpts{Network: "host",
					Args: append([]string{"pgbench", "-h", "127.0.0.1", "-p", itoa(port), "-U", "postgres"}, args...)})
				if code != 0 {
					t.Fatalf("pgbench %v: exit %d\n%s%s\nlog:\n%s", args, code, out, errOut, ctr.Logs(t))
				}
				return out + errOut
			}
			bench("-i", "-s", "1", "-q", "postgres")
			out := bench("-c", "4", "-j", "2", "-t", "200", "postgres")
			if !strings.Contains(out, "number of transactions actually processed: 800/800") ||
				!strings.Contains(out, "number of failed transactions: 0 ") {
				t.Fatalf("pgbench on the converted server:\n%s", out)
			}
			if got, code := psql(port, "SELECT count(*), sum(abalance) = (SELECT sum(delta) FROM pgbench_history) FROM pgbench_accounts"); code != 0 || strings.TrimSpace(got) != "100000|t" {
				t.Fatalf("pgbench's accounts after the run: %q (exit %d)", got, code)
			}
		}
		if exit := ctr.Stop(t, 20e9); exit != 0 {
			t.Fatalf("step %d: the converted server exited %d on SIGINT (a fast shutdown exits 0):\n%s", i, exit, ctr.Logs(t))
		}
	}
	err = filepath.WalkDir(scDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && (bytes.Contains(b, []byte(marker)) || bytes.Contains(b, []byte("PostgreSQL"))) {
			t.Errorf("%s holds postgres data in clear", p)
		}
		rel, _ := filepath.Rel(scDir, p)
		for _, name := range []string{"PG_VERSION", "pg_hba", "pg_wal", "postgresql.conf", "base"} {
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
