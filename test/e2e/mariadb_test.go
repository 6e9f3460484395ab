package e2e

import (
	"strings"
	"testing"

	"github.com/scone-build/scone-build/internal/podmantest"
)

// TestProtectedVolumeMariaDB: MariaDB 10.11 of the real image (Debian's
// packages), converted with --protected-volume on /var/lib/mysql, runs
// mariadb-install-db and the server in the enclave (InnoDB and Aria tables,
// a thread per connection, InnoDB's own I/O threads once io_uring and
// Linux AIO are refused, the redo log written instead of mapped). A client
// container (the native image's mariadb) gets the same answers as from the
// native server, in a first and a second container on the same host
// directory; mariadb-slap's concurrent clients all succeed; the host
// directory holds neither rows nor file names in clear.
func TestProtectedVolumeMariaDB(t *testing.T) {
	e := setup(t)
	const marker = "CITY-PLAINTEXT-MARKER-71c4"
	db := dbVolume{
		image: "mariadb", data: "/var/lib/mysql", port: "3306",
		client: func(port int, sql string) []string {
			return []string{"mariadb", "-h", "127.0.0.1", "-P", itoa(port), "-u", "root", "-N", "-B", "-e", sql}
		},
		names: []string{"ibdata", "ib_logfile", "mysql", "global_priv", ".frm", ".ibd"},
	}
	steps := []string{
		"CREATE DATABASE shop; USE shop;" +
			"CREATE TABLE shop.orders (id INT PRIMARY KEY, city VARCHAR(64) NOT NULL, amount INT NOT NULL, KEY (city)) ENGINE=InnoDB;" +
			"CREATE TABLE shop.notes (id INT PRIMARY KEY, note TEXT) ENGINE=Aria;" +
			"INSERT INTO shop.orders SELECT seq, CONCAT('city-', seq % 50, '-" + marker + "'), seq * 3 FROM seq_1_to_3000;" +
			"INSERT INTO shop.notes VALUES (1, 'aria " + marker + "'), (2, 'second');" +
			"START TRANSACTION; UPDATE shop.orders SET amount = amount - 100 WHERE id = 1; UPDATE shop.orders SET amount = amount + 100 WHERE id = 2; COMMIT;" +
			"SELECT COUNT(*), SUM(amount) FROM shop.orders;",
		"SELECT COUNT(*), SUM(amount), MIN(city) FROM shop.orders;" +
			"SELECT id, amount FROM shop.orders WHERE id <= 3 ORDER BY id;" +
			"SELECT COUNT(*) FROM shop.orders WHERE city LIKE 'city-7-%';" +
			"SELECT note FROM shop.notes ORDER BY id;",
	}
	db.run(t, e, marker, steps, func(native string, r dbRun) {
		// concurrent clients: a connection thread each
		out, errOut, code := e.p.Run(t, native, podmantest.RunOpts{Network: "host",
			Args: []string{"mariadb-slap", "-h", "127.0.0.1", "-P", itoa(r.port), "-u", "root", "--concurrency=4", "--iterations=2",
				"--number-int-cols=2", "--number-char-cols=2", "--auto-generate-sql", "--auto-generate-sql-load-type=mixed",
				"--number-of-queries=400", "--engine=innodb"}})
		if code != 0 || !strings.Contains(out, "Average number of seconds to run all queries") {
			t.Fatalf("mariadb-slap: exit %d\n%s%s\nlog:\n%s", code, out, errOut, r.ctr.Logs(t))
		}
		got, _ := db.query(t, e, native, r.port, "CHECK TABLE shop.orders, shop.notes")
		if strings.Count(got, "\tstatus\tOK") != 2 {
			t.Fatalf("CHECK TABLE after the load: %q", got)
		}
	})
}
