package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lms-backup/cli"
	"lms-backup/internal/testdb"
)

// TestSnapshotConsistency commits transfers between two tables while the
// dump is between them: the dump must hold the state of the moment its
// snapshot began, so the ledger still balances against the counter row.
func TestSnapshotConsistency(t *testing.T) {
	srv := testdb.Get(t)
	db := srv.CreateDB(t, "snap")
	srv.Exec(t, db,
		"CREATE TABLE a_ledger (id INT AUTO_INCREMENT PRIMARY KEY, amount DECIMAL(14,3) NOT NULL)",
		"CREATE TABLE z_counter (id INT PRIMARY KEY, entries INT NOT NULL, total DECIMAL(14,3) NOT NULL)",
		"INSERT INTO a_ledger (amount) SELECT seq * 1.5 FROM seq_1_to_1000",
		"INSERT INTO z_counter VALUES (1, 1000, (SELECT SUM(amount) FROM a_ledger))")

	// Hold z_counter so the dump stops after a_ledger, inside its snapshot.
	locker := srv.Open(t, db)
	locker.SetMaxOpenConns(1)
	if _, err := locker.Exec("LOCK TABLES z_counter WRITE"); err != nil {
		t.Fatal(err)
	}
	// One thread: with more, the global lock that opens their snapshot
	// would wait for this LOCK TABLES first (TestParallelFallbackOnLockWait).
	out := filepath.Join(t.TempDir(), "snap.sql.zst")
	cmd := exec.Command(bin, append([]string{"--quiet", "dump", "-D", db, "-o", out, "--threads", "1"}, connArgs(srv)...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForLockWait(t, srv)
	// Writes committed after the snapshot began, to both tables.
	writer := srv.Open(t, db)
	for i := 0; i < 50; i++ {
		if _, err := writer.Exec("INSERT INTO a_ledger (amount) VALUES (10)"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := locker.Exec("UPDATE z_counter SET entries = entries + 50, total = total + 500"); err != nil {
		t.Fatal(err)
	}
	locker.Exec("UNLOCK TABLES")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dump: %v\n%s", err, stderr.String())
	}

	dst := srv.CreateDB(t, "snapcopy")
	mustRun(t, append(append([]string{"--quiet", "restore", "-D", dst}, connArgs(srv)...), out)...)
	var entries, ledgerRows int
	var total, ledgerSum string
	conn := srv.Open(t, dst)
	conn.QueryRow("SELECT entries, total FROM z_counter WHERE id = 1").Scan(&entries, &total)
	conn.QueryRow("SELECT COUNT(*), SUM(amount) FROM a_ledger").Scan(&ledgerRows, &ledgerSum)
	if entries != 1000 || ledgerRows != 1000 || total != ledgerSum {
		t.Fatalf("restored copy is not one snapshot: counter %d entries / %s, ledger %d rows / %s (want 1000 and matching sums)",
			entries, total, ledgerRows, ledgerSum)
	}
}

func waitForLockWait(t *testing.T, srv *testdb.Server) {
	t.Helper()
	root := srv.Open(t, "")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		mustScan(t, root.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "+lockWaitStates), &n)
		if n > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the dump never waited for the lock")
}

// TestDumpToStdoutAndForce pipes a dump from stdout into a restore on
// stdin, checks the header's snapshot coordinates, and restores again over
// the same database with --force.
func TestDumpToStdoutAndForce(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "pipe")
	srv.Exec(t, src, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))", "INSERT INTO t VALUES (1, 'واحد'), (2, 'two')")
	r := run(t, nil, nil, append([]string{"--quiet", "dump", "-D", src, "-o", "-"}, connArgs(srv)...)...)
	if r.code != 0 {
		t.Fatalf("dump -o -: exit %d: %s", r.code, r.stderr)
	}
	file := filepath.Join(t.TempDir(), "piped.sql.zst")
	if err := os.WriteFile(file, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	v := mustRun(t, "verify", "--json", file)
	var rep struct {
		Header struct {
			Database   string `json:"database"`
			BinlogFile string `json:"binlog_file"`
			BinlogPos  int64  `json:"binlog_pos"`
			GTID       string `json:"gtid"`
		} `json:"header"`
		Rows int64 `json:"rows"`
	}
	if err := json.Unmarshal([]byte(v.stdout), &rep); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, v.stdout)
	}
	if rep.Rows != 2 || rep.Header.Database != src {
		t.Errorf("verify --json: %+v", rep)
	}
	if os.Getenv("LMS_TEST_DSN") == "" && (rep.Header.BinlogFile == "" || rep.Header.BinlogPos == 0 || rep.Header.GTID == "") {
		t.Errorf("the harness's server writes a binary log, but the header has no coordinates: %+v", rep.Header)
	}

	dst := srv.CreateDB(t, "piped")
	restore := func(extra ...string) result {
		args := append(append([]string{"--quiet", "restore", "-D", dst}, extra...), connArgs(srv)...)
		return run(t, strings.NewReader(r.stdout), nil, append(args, "-")...)
	}
	if res := restore(); res.code != 0 {
		t.Fatalf("restore from stdin: exit %d: %s", res.code, res.stderr)
	}
	if res := restore(); res.code != cli.ExitRestore {
		t.Fatalf("second restore without --force: exit %d, want %d", res.code, cli.ExitRestore)
	}
	srv.Exec(t, dst, "INSERT INTO t VALUES (3, 'extra')")
	if res := restore("--force"); res.code != 0 {
		t.Fatalf("restore --force: exit %d: %s", res.code, res.stderr)
	}
	compareDatabases(t, srv, src, dst)
}
