package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scone-build/scone-build/internal/podmantest"
	"github.com/scone-build/scone-build/pkg/convert"
)

// sqliteWorkload is 100,000 inserts in 100 transactions and 10,000 point
// selects of pseudo-random keys (the sqlite benchmark), one
// statement a line, for sqlite3's stdin.
func sqliteWorkload() string {
	var b strings.Builder
	b.WriteString("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL);\n")
	for tx := 0; tx < 100; tx++ {
		b.WriteString("BEGIN;\n")
		for i := 0; i < 1000; i++ {
			id := tx*1000 + i
			fmt.Fprintf(&b, "INSERT INTO t VALUES (%d, 'value %d %08x');\n", id, id, uint32(id)*2654435761)
		}
		b.WriteString("COMMIT;\n")
	}
	x := uint32(12345)
	for i := 0; i < 10000; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		fmt.Fprintf(&b, "SELECT v FROM t WHERE id = %d;\n", x%100000)
	}
	return b.String()
}

// BenchmarkSQLiteVolume: sqlite3 of the real image runs the workload on a
// new database, natively on a plain host directory and converted on a
// protected volume (/srv/db), under podman, in one run; the outputs must
// be equal. ns/op is a whole `podman run`; the metric net-ms subtracts a
// run of `SELECT 1;` on the same setup, measured in the same iteration
// (container and enclave start).
//
//	go test ./test/e2e -run '^$' -bench SQLiteVolume -benchtime 3x
func BenchmarkSQLiteVolume(b *testing.B) {
	e := setup(b)
	img := e.image(b, "sqlite")
	conv, _ := e.convert(b, withCommand(b, img, []string{"sqlite3", "/srv/db/app.db"}),
		convert.WithProtectedVolumes("/srv/db"), convert.WithHostArgs(true))
	id := e.load(b, conv, "sqlite-bench")
	native := e.p.PullOCI(b, podmantest.WriteLayout(b, withCommand(b, img, []string{"sqlite3"}), "native"), "native")
	work := sqliteWorkload()
	var want string
	for _, c := range []struct {
		name      string
		image     string
		converted bool
	}{{"native", native, false}, {"volume", id, true}} {
		b.Run(c.name, func(b *testing.B) {
			run := func(sql string) (string, time.Duration) {
				b.Helper()
				dir := b.TempDir()
				if err := os.Chmod(dir, 0o777); err != nil { // the image's user writes there
					b.Fatal(err)
				}
				opts := podmantest.RunOpts{Network: "none", Args: []string{"/srv/db/app.db"}, Volumes: []string{dir + ":/srv/db"},
					Stdin: strings.NewReader(sql), Timeout: 10 * time.Minute}
				if c.converted {
					opts.Env = []string{"SCONE_FS_KEY_FILE=/run/secrets/scone-fs-key"}
					opts.Volumes = append(opts.Volumes, e.keyFile+":/run/secrets/scone-fs-key:ro")
				}
				t0 := time.Now()
				out, stderr, code := e.p.Run(b, c.image, opts)
				d := time.Since(t0)
				if code != 0 {
					b.Fatalf("sqlite3: exit %d\n%s", code, stderr)
				}
				return out, d
			}
			var net time.Duration
			n := 0
			b.ResetTimer()
			for b.Loop() {
				out, d := run(work)
				b.StopTimer()
				_, empty := run("SELECT 1;\n")
				b.StartTimer()
				net += d - empty
				n++
				if want == "" {
					want = out
				} else if out != want {
					b.Fatalf("the output differs from the native run's (%d vs %d bytes)", len(out), len(want))
				}
			}
			if lines := strings.Count(want, "\n"); lines != 10000 {
				b.Fatalf("%d lines of output, want 10,000", lines)
			}
			b.ReportMetric(float64(net.Milliseconds())/float64(n), "net-ms")
		})
	}
}
