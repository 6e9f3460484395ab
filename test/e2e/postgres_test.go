package e2e

import (
	"strings"
	"testing"

	"github.com/scone-build/scone-build/internal/podmantest"
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
	const marker = "OWNER-PLAINTEXT-MARKER-93ab"
	db := dbVolume{
		image: "postgres", data: "/var/lib/postgresql/data", port: "5432",
		client: func(port int, sql string) []string {
			return []string{"psql", "-h", "127.0.0.1", "-p", itoa(port), "-U", "postgres", "-X", "-q", "-A", "-t",
				"-v", "ON_ERROR_STOP=1", "-c", sql}
		},
		names: []string{"PG_VERSION", "pg_hba", "pg_wal", "postgresql.conf", "base"},
		clear: []string{"PostgreSQL"},
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
	db.run(t, e, marker, steps, func(native string, r dbRun) {
		// concurrent transactions: four clients on four backends
		bench := func(args ...string) string {
			t.Helper()
			out, errOut, code := e.p.Run(t, native, podmantest.RunOpts{Network: "host",
				Args: append([]string{"pgbench", "-h", "127.0.0.1", "-p", itoa(r.port), "-U", "postgres"}, args...)})
			if code != 0 {
				t.Fatalf("pgbench %v: exit %d\n%s%s\nlog:\n%s", args, code, out, errOut, r.ctr.Logs(t))
			}
			return out + errOut
		}
		bench("-i", "-s", "1", "-q", "postgres")
		out := bench("-c", "4", "-j", "2", "-t", "200", "postgres")
		if !strings.Contains(out, "number of transactions actually processed: 800/800") ||
			!strings.Contains(out, "number of failed transactions: 0 ") {
			t.Fatalf("pgbench on the converted server:\n%s", out)
		}
		got, _ := db.query(t, e, native, r.port, "SELECT count(*), sum(abalance) = (SELECT sum(delta) FROM pgbench_history) FROM pgbench_accounts")
		if strings.TrimSpace(got) != "100000|t" {
			t.Fatalf("pgbench's accounts after the run: %q", got)
		}
	})
}
