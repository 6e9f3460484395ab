package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scone-build/scone-build/internal/podmantest"
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
	img := e.image(t, "sqlite")
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

// TestProtectedVolumeRedis: redis-server of the real image, converted with
// --protected-volume /data, persists through its append-only file (fsync
// always), through SAVE, and through BGSAVE and BGREWRITEAOF, whose forked
// child writes the file while the parent serves (the volume is shared by
// the enclave's processes), and a new container finds the data, as
// natively; the host directory holds no key or value in clear.
func TestProtectedVolumeRedis(t *testing.T) {
	e := setup(t)
	img := e.image(t, "redis")
	conv, _ := e.convert(t, img, convert.WithProtectedVolumes("/data"), convert.WithHostArgs(true))
	id := e.load(t, conv, "redis-pvol")
	native := e.p.PullOCI(t, podmantest.WriteLayout(t, img, "native"), "native")
	const marker = "VALUE-PLAINTEXT-MARKER-8c1f"
	for _, c := range []struct {
		name   string
		args   []string
		write  string // commands of the first container
		read   string // of the second
		wantIn string
	}{
		{"aof", []string{"redis-server", "--protected-mode", "no", "--appendonly", "yes", "--appendfsync", "always", "--save", ""},
			"SET k1 " + marker + "\r\nINCR n\r\nINCR n\r\nRPUSH l a b c\r\nQUIT\r\n",
			"GET k1\r\nGET n\r\nLRANGE l 0 -1\r\nQUIT\r\n", marker},
		{"rdb", []string{"redis-server", "--protected-mode", "no", "--appendonly", "no", "--save", ""},
			"SET k1 " + marker + "\r\nSET k2 second\r\nSAVE\r\nQUIT\r\n",
			"GET k1\r\nGET k2\r\nDBSIZE\r\nQUIT\r\n", "second"},
		{"bgsave", []string{"redis-server", "--protected-mode", "no", "--appendonly", "no", "--save", ""},
			"SET k1 " + marker + "\r\nSET k2 forked\r\nBGSAVE\r\nQUIT\r\n",
			"GET k1\r\nGET k2\r\nDBSIZE\r\nQUIT\r\n", "forked"},
		{"bgrewriteaof", []string{"redis-server", "--protected-mode", "no", "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""},
			"SET k1 " + marker + "\r\nINCR n\r\nBGREWRITEAOF\r\nQUIT\r\n",
			"GET k1\r\nGET n\r\nQUIT\r\n", marker},
	} {
		t.Run(c.name, func(t *testing.T) {
			session := func(image, dir string, converted bool, req string) string {
				t.Helper()
				// natively the arguments replace CMD; converted (--host-args)
				// they replace argv[1:]
				opts := podmantest.RunOpts{Args: c.args, Volumes: []string{dir + ":/data"}}
				if converted {
					opts.Args = c.args[1:]
					opts.Env = []string{"SCONE_FS_KEY_FILE=/run/secrets/scone-fs-key"}
					opts.Volumes = append(opts.Volumes, e.keyFile+":/run/secrets/scone-fs-key:ro")
				}
				port := podmantest.FreePort(t)
				opts.Ports = []string{"127.0.0.1:" + itoa(port) + ":6379"}
				ctr := e.p.Start(t, image, opts)
				defer ctr.Stop(t, 10e9)
				addr := "127.0.0.1:" + itoa(port)
				ctr.WaitTCP(t, addr, 60e9)
				// redis accepts connections while it still loads its files
				// (-LOADING): wait until it answers
				for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
					if strings.Contains(tcpProbe("PING\r\nQUIT\r\n")(t, addr), "+PONG") {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("redis (converted %v) does not answer PING:\n%s", converted, ctr.Logs(t))
					}
				}
				out := tcpProbe(req)(t, addr)
				// a background save or rewrite: its forked child writes
				// while redis serves; wait until it is done, and done well
				inProgress, status := "", ""
				if strings.Contains(req, "BGSAVE") {
					inProgress, status = "rdb_bgsave_in_progress:0", "rdb_last_bgsave_status:"
				} else if strings.Contains(req, "BGREWRITEAOF") {
					inProgress, status = "aof_rewrite_in_progress:0", "aof_last_bgrewrite_status:"
				}
				for deadline := time.Now().Add(30 * time.Second); inProgress != ""; time.Sleep(100 * time.Millisecond) {
					info := tcpProbe("INFO persistence\r\nQUIT\r\n")(t, addr)
					if strings.Contains(info, inProgress) && !strings.Contains(info, "aof_rewrite_scheduled:1") {
						if !strings.Contains(info, status+"ok") {
							t.Fatalf("the background save failed (converted %v):\n%s\nlog:\n%s", converted, info, ctr.Logs(t))
						}
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the background save did not finish (converted %v):\n%s", converted, info)
					}
				}
				return out
			}
			nativeDir, scDir := t.TempDir(), t.TempDir()
			for _, d := range []string{nativeDir, scDir} {
				if err := os.Chmod(d, 0o777); err != nil { // the image's user (redis) writes there
					t.Fatal(err)
				}
			}
			for i, req := range []string{c.write, c.read} { // a new container each
				want := session(native, nativeDir, false, req)
				got := session(id, scDir, true, req)
				if got != want {
					t.Fatalf("step %d: converted %q, native %q", i, got, want)
				}
				if i == 1 && !strings.Contains(got, c.wantIn) {
					t.Fatalf("the data is not back after a restart: %q", got)
				}
			}
			err := filepath.WalkDir(scDir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || !d.Type().IsRegular() {
					return err
				}
				b, err := os.ReadFile(p)
				if err == nil && (bytes.Contains(b, []byte(marker)) || bytes.Contains(b, []byte("REDIS"))) {
					t.Errorf("%s holds redis data in clear", p)
				}
				if strings.Contains(d.Name(), "appendonly") || strings.Contains(d.Name(), "dump.rdb") {
					t.Errorf("the host sees the file name %s", p)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}

}

// TestProtectedVolumeSQLiteCrash: sqlite3, converted with a protected
// volume, commits transactions while its container is killed (podman
// kill, SIGKILL) at random moments; after every kill a new container runs
// PRAGMA integrity_check and finds at least every transaction sqlite
// reported committed, with the rollback journal (sqlite's default) and in
// WAL mode with exclusive locking (the WAL index then lives in sqlite's
// memory instead of a shared mapping of the -shm file, which a protected
// volume refuses).
func TestProtectedVolumeSQLiteCrash(t *testing.T) {
	e := setup(t)
	img := e.image(t, "sqlite")
	conv, _ := e.convert(t, withCommand(t, img, []string{"sqlite3", "/srv/db/app.db"}),
		convert.WithProtectedVolumes("/srv/db"), convert.WithHostArgs(true))
	id := e.load(t, conv, "sqlite-crash")
	const kills = 6
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0x5c1e))
	for _, mode := range []struct{ name, pragma string }{
		{"journal", ""},
		{"wal-exclusive", "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL;"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			args := []string{"run", "--rm", "-i", "--network", "none", "-v", dir + ":/srv/db",
				"-v", e.keyFile + ":/run/secrets/scone-fs-key:ro", "-e", "SCONE_FS_KEY_FILE=/run/secrets/scone-fs-key"}
			query := func(sql string) string {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := e.p.Command(ctx, append(args, id, "/srv/db/app.db")...)
				cmd.Stdin = strings.NewReader(mode.pragma + sql)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("sqlite3 %q: %v\n%s", sql, err, out)
				}
				return string(out)
			}
			query("CREATE TABLE t(n INTEGER PRIMARY KEY, pad TEXT);\n")
			committed := -1
			for k := 0; k < kills; k++ {
				name := fmt.Sprintf("sqlite-crash-%d-%d", seed%100000, k)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				cmd := e.p.Command(ctx, append(append([]string{}, args[0], args[1], "--name", name), append(args[2:], id, "/srv/db/app.db")...)...)
				in, err := cmd.StdinPipe()
				if err != nil {
					t.Fatal(err)
				}
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				// the writer: transactions of 50 rows, each acknowledged by a line
				go func() {
					io.WriteString(in, mode.pragma+"SELECT 'start', coalesce(max(n), -1) FROM t;\n")
					for i := 0; ; i++ {
						var b strings.Builder
						b.WriteString("BEGIN;\n")
						for j := 0; j < 50; j++ {
							fmt.Fprintf(&b, "INSERT INTO t(pad) VALUES ('%s');\n", strings.Repeat("x", 200+j))
						}
						b.WriteString("COMMIT;\nSELECT 'committed', max(n) FROM t;\n")
						if _, err := io.WriteString(in, b.String()); err != nil {
							return
						}
					}
				}()
				lines := make(chan string, 4096)
				go func() {
					sc := bufio.NewScanner(out)
					for sc.Scan() {
						lines <- sc.Text()
					}
					close(lines)
				}()
				time.Sleep(time.Duration(300+rng.IntN(900)) * time.Millisecond)
				e.p.Command(context.Background(), "kill", "-s", "KILL", name).Run()
				for l := range lines {
					if v, ok := strings.CutPrefix(l, "start|"); ok { // the state the run began from
						if n, err := strconv.Atoi(v); err != nil || n < committed {
							t.Fatalf("run %d began at row %q, but row %d was reported committed", k, v, committed)
						}
						continue
					}
					if v, ok := strings.CutPrefix(l, "committed|"); ok {
						if n, err := strconv.Atoi(v); err == nil {
							committed = max(committed, n)
						}
					}
				}
				cmd.Wait()
				cancel()
				got := query("PRAGMA integrity_check; SELECT 'rows', coalesce(max(n), -1) FROM t;\n")
				if !strings.Contains("\n"+got, "\nok\n") {
					t.Fatalf("after kill %d: integrity_check says %q", k, got)
				}
				_, last, _ := strings.Cut(got, "rows|")
				if n, err := strconv.Atoi(strings.TrimSpace(last)); err != nil || n < committed {
					t.Fatalf("after kill %d: %d rows, but row %d was reported committed (%q)", k, n, committed, got)
				}
			}
			if committed < 100 {
				t.Fatalf("the kills came too early: %d rows committed in all", committed+1)
			}
			t.Logf("%d kills, %d rows committed", kills, committed+1)
		})
	}
	// WAL with normal locking maps the -shm file shared and writable: refused
	// on a protected volume, and sqlite says so (docs/compatibility.md)
	t.Run("wal-shared", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		out, stderr, code := e.p.Run(t, id, podmantest.RunOpts{Network: "none", Args: []string{"/srv/db/app.db"},
			Volumes: []string{dir + ":/srv/db", e.keyFile + ":/run/secrets/scone-fs-key:ro"},
			Env:     []string{"SCONE_FS_KEY_FILE=/run/secrets/scone-fs-key"},
			Stdin:   strings.NewReader("PRAGMA journal_mode=WAL; CREATE TABLE x(a); INSERT INTO x VALUES (1);\n")})
		if code == 0 && !strings.Contains(out+stderr, "rror") {
			t.Fatalf("WAL with a shared -shm mapping worked on a protected volume (update docs/compatibility.md):\n%s%s", out, stderr)
		}
		if !strings.Contains(stderr, "a shared writable mmap of a volume file (/srv/db/app.db-shm) is refused") {
			t.Fatalf("the refusal is not explained:\n%s", stderr)
		}
		t.Logf("sqlite says: %s", strings.TrimSpace(out+stderr))
	})
}
