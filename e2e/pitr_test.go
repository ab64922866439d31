package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lms-backup/internal/testdb"
	"lms-backup/internal/tests3"
)

// pitrServer starts a private server that logs full row images, as the
// README asks of a server whose binary log is archived.
func pitrServer(t *testing.T) *testdb.Server {
	t.Helper()
	return testdb.StartExtra(t, "--binlog-format=ROW", "--binlog-row-image=FULL")
}

// pitrSource starts a server that logs rows and creates a database with
// the loans schema in it.
func pitrSource(t *testing.T, prefix string) (*testdb.Server, *sql.DB, string) {
	t.Helper()
	srv := pitrServer(t)
	src := srv.CreateDB(t, prefix)
	pitrSchema(t, srv, src)
	return srv, srv.Open(t, ""), src
}

// archiver is a running `lms-backup binlog`.
type archiver struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	code   int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startArchiver(t *testing.T, srv *testdb.Server, dir string, extra ...string) *archiver {
	t.Helper()
	return startArchiverEnv(t, srv, dir, nil, extra...)
}

// startArchiverEnv is startArchiver with more environment variables.
func startArchiverEnv(t *testing.T, srv *testdb.Server, dir string, env []string, extra ...string) *archiver {
	t.Helper()
	a := &archiver{stderr: &syncBuffer{}, done: make(chan struct{})}
	a.cmd = exec.Command(bin, append(append([]string{"binlog", "-o", dir}, connArgs(srv)...), extra...)...)
	a.cmd.Env = append(os.Environ(), env...)
	a.cmd.Stderr = a.stderr
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := a.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			a.code = ee.ExitCode()
		}
		close(a.done)
	}()
	t.Cleanup(func() { a.cmd.Process.Kill(); <-a.done })
	return a
}

// wait waits for the archiver to exit and returns its code.
func (a *archiver) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-a.done:
		return a.code
	case <-time.After(limit):
		t.Fatalf("the archiver did not exit within %s; stderr:\n%s", limit, a.stderr)
		return 0
	}
}

// stop sends SIGTERM and checks the documented exit code.
func (a *archiver) stop(t *testing.T) {
	t.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.wait(t, 30*time.Second); code != 130 {
		t.Fatalf("archiver after SIGTERM: exit %d, want 130; stderr:\n%s", code, a.stderr)
	}
}

func (a *archiver) running() bool {
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}

// nextSecond waits until the server's clock is in a later second than
// every commit so far and returns that moment in the server's time zone:
// a transaction committed before the call is before it, one committed
// after is not.
func nextSecond(t *testing.T, db *sql.DB) string {
	t.Helper()
	var first string
	mustScan(t, db.QueryRow("SELECT NOW()"), &first)
	for {
		var now string
		mustScan(t, db.QueryRow("SELECT NOW()"), &now)
		if now != first {
			return now
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// markMoment waits for the next second, returns that moment and the state
// of database src then, and waits for the second after: commits before
// the call are before the moment, commits after it are after.
func markMoment(t *testing.T, db *sql.DB, src string) (string, map[string]string) {
	t.Helper()
	until := nextSecond(t, db)
	atT := pitrState(t, db, src)
	nextSecond(t, db)
	return until, atT
}

// pitrState is every base table of database name: its definition and its
// CHECKSUM TABLE ... EXTENDED.
func pitrState(t *testing.T, db *sql.DB, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range column(t, db, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", name) {
		var n, create string
		mustScan(t, db.QueryRow("SHOW CREATE TABLE "+ident(name)+"."+ident(table)), &n, &create)
		var tn string
		var sum sql.NullInt64
		mustScan(t, db.QueryRow("CHECKSUM TABLE "+ident(name)+"."+ident(table)+" EXTENDED"), &tn, &sum)
		var rows int
		mustScan(t, db.QueryRow("SELECT COUNT(*) FROM "+ident(name)+"."+ident(table)), &rows)
		out[table] = fmt.Sprintf("%s\nchecksum %d, %d rows", create, sum.Int64, rows)
	}
	return out
}

func compareState(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for table, w := range want {
		if g, ok := got[table]; !ok {
			t.Errorf("%s: table %s missing", what, table)
		} else if g != w {
			t.Errorf("%s: table %s differs:\ngot  %s\nwant %s", what, table, g, w)
		}
	}
	for table := range got {
		if _, ok := want[table]; !ok {
			t.Errorf("%s: table %s should not be there", what, table)
		}
	}
}

// restoreUntil restores dir to a moment into a new database, retrying
// while the archive does not yet hold an event after the moment (exit 2)
// for up to limit.
func restoreUntil(t *testing.T, srv *testdb.Server, dir, target string, limit time.Duration, until ...string) result {
	t.Helper()
	return restoreUntilEnv(t, srv, dir, target, limit, nil, until...)
}

// restoreUntilEnv is restoreUntil with more environment variables.
func restoreUntilEnv(t *testing.T, srv *testdb.Server, dir, target string, limit time.Duration, env []string, until ...string) result {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		r := run(t, nil, env, append(append([]string{"restore", "-D", target, "--create-database"}, until...), append(connArgs(srv), dir)...)...)
		if r.code != 2 || time.Now().After(deadline) {
			if r.code != 0 {
				t.Fatalf("restore %v: exit %d\n%s", until, r.code, r.stderr)
			}
			return r
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func pitrSchema(t *testing.T, srv *testdb.Server, src string) {
	t.Helper()
	srv.Exec(t, src,
		"CREATE TABLE loans (id INT AUTO_INCREMENT PRIMARY KEY, borrower VARCHAR(60) CHARACTER SET utf8mb4, amount DECIMAL(12,2), opened DATETIME(6), note TEXT) DEFAULT CHARSET=utf8mb4",
		"CREATE TABLE payments (id INT AUTO_INCREMENT PRIMARY KEY, loan_id INT, paid DECIMAL(12,2), at TIMESTAMP(3) NULL, KEY (loan_id))",
		"INSERT INTO loans (borrower, amount, opened, note) SELECT CONCAT('مقترض ', seq), seq * 100.25, '2026-01-01 10:00:00.123456' + INTERVAL seq DAY, REPEAT('x', seq) FROM seq_1_to_60",
		"INSERT INTO payments (loan_id, paid, at) SELECT seq % 60 + 1, seq, '2026-02-01 00:00:00.5' + INTERVAL seq HOUR FROM seq_1_to_200")
}

// TestPITR dumps, archives the binary log, commits changes of every kind
// at known moments, makes a mistake, and restores to just before it: the
// result must equal the source at that moment. It also restores to a
// GTID, checks the folder with verify, and rotates.
func TestPITR(t *testing.T) {
	srv := pitrServer(t)
	db := srv.Open(t, "")
	src := srv.CreateDB(t, "pitr_src")
	other := srv.CreateDB(t, "pitr_other")
	pitrSchema(t, srv, src)
	srv.Exec(t, other, "CREATE TABLE audit (id INT PRIMARY KEY, what VARCHAR(20))")
	dir := t.TempDir()
	mustRun(t, append([]string{"-q", "dump", "-D", src, "-o", dir + "/"}, connArgs(srv)...)...)
	a := startArchiver(t, srv, dir)

	srv.Exec(t, src,
		"INSERT INTO loans (borrower, amount, opened) VALUES ('late one', 7.5, NOW(6))",
		"UPDATE loans SET amount = amount * 2 WHERE id < 10",
		"DELETE FROM loans WHERE id > 55 AND id < 59",
		"ALTER TABLE loans ADD COLUMN status VARCHAR(10) NOT NULL DEFAULT 'open' AFTER amount",
		"UPDATE loans SET status = 'closed' WHERE id % 7 = 0",
		"CREATE TABLE fees (id INT PRIMARY KEY, loan_id INT, fee DECIMAL(8,2), label VARCHAR(20) CHARACTER SET utf8mb4)",
		"INSERT INTO fees VALUES (1, 3, 12.5, 'رسوم'), (2, 4, 0.01, NULL)",
		"CREATE TABLE scratch (x INT)", "INSERT INTO scratch VALUES (1)", "DROP TABLE scratch",
		"DROP TABLE IF EXISTS never_was",
		"FLUSH BINARY LOGS")
	execOne(t, srv.Open(t, src), "START TRANSACTION",
		"INSERT INTO payments (loan_id, paid, at) VALUES (3, 99.99, '2026-03-01 12:00:00.250')",
		"UPDATE loans SET amount = amount - 99.99 WHERE id = 3",
		"COMMIT")
	srv.Exec(t, other, "INSERT INTO audit VALUES (1, 'elsewhere')", "CREATE TABLE more (x INT)")
	srv.Exec(t, src, "INSERT INTO "+ident(other)+".audit VALUES (2, 'from src')")
	until, atT := markMoment(t, db, src)
	srv.Exec(t, src, "DELETE FROM loans", "DROP TABLE fees") // the mistake
	var mistake int
	mustScan(t, db.QueryRow("SELECT COUNT(*) FROM "+ident(src)+".loans"), &mistake)
	if mistake != 0 {
		t.Fatal("the mistake did not happen")
	}

	r := restoreUntil(t, srv, dir, "pitr_at_t", 20*time.Second, "--until", until)
	compareState(t, "restore --until "+until, pitrState(t, db, "pitr_at_t"), atT)
	if !strings.Contains(r.stdout, "replayed") || !strings.Contains(r.stdout, "stopped at") {
		t.Errorf("restore --until says: %q", r.stdout)
	}
	var elsewhere int
	mustScan(t, db.QueryRow("SELECT COUNT(*) FROM "+ident(other)+".audit"), &elsewhere)
	if elsewhere != 2 {
		t.Errorf("the other database has %d audit rows, want 2 (untouched)", elsewhere)
	}

	// SIGTERM leaves complete segments, and a new run continues.
	a.stop(t)
	v := mustRun(t, "verify", dir)
	if !strings.Contains(v.stdout, "gaps: none") || !strings.Contains(v.stdout, "a restore can reach") {
		t.Errorf("verify %s:\n%s", dir, v.stdout)
	}
	a = startArchiver(t, srv, dir)
	srv.Exec(t, src, "INSERT INTO loans (borrower, amount) VALUES ('after the restart', 1)")
	var gtid string
	mustScan(t, db.QueryRow("SELECT @@gtid_binlog_pos"), &gtid)
	afterGTID := pitrState(t, db, src)
	srv.Exec(t, src, "INSERT INTO loans (borrower, amount) VALUES ('not this one', 2)")
	restoreUntil(t, srv, dir, "pitr_at_gtid", 20*time.Second, "--until-gtid", gtid)
	compareState(t, "restore --until-gtid "+gtid, pitrState(t, db, "pitr_at_gtid"), afterGTID)

	// Out of range: before the dump, and after the newest event.
	for _, moment := range []string{"2000-01-01 00:00:00", "2099-01-01 00:00:00"} {
		r := run(t, nil, nil, append(append([]string{"restore", "-D", "pitr_never", "--create-database", "--until", moment}, connArgs(srv)...), dir)...)
		if r.code != 2 || !strings.Contains(r.stderr, "a restore can reach") {
			t.Errorf("restore --until %s: exit %d, want 2 naming the range:\n%s", moment, r.code, r.stderr)
		}
	}
	for _, name := range column(t, db, "SHOW DATABASES LIKE 'pitr\\_never'") {
		t.Errorf("a refused restore left database %s", name)
	}

	// A replay that fails after the dump is staged (here the client exits
	// 1) leaves the target as it was and no staging database.
	failing := filepath.Join(t.TempDir(), "failing-client")
	os.WriteFile(failing, []byte("#!/bin/sh\ncat >/dev/null\necho 'ERROR 1146 (42S02) at line 12: Table does not exist' >&2\nexit 1\n"), 0o700)
	before := pitrState(t, db, "pitr_at_t")
	r = run(t, nil, []string{"LMS_BACKUP_TEST_REPLAY_CLIENT=" + failing},
		append(append([]string{"restore", "-D", "pitr_at_t", "--force", "--until", until}, connArgs(srv)...), dir)...)
	if r.code != 6 || !strings.Contains(r.stderr, "ERROR 1146") {
		t.Errorf("a failing replay: exit %d, want 6 with the client's error:\n%s", r.code, r.stderr)
	}
	compareState(t, "the target after a failed replay", pitrState(t, db, "pitr_at_t"), before)
	for _, name := range column(t, db, "SHOW DATABASES LIKE 'lms\\_restore\\_%'") {
		t.Errorf("a failed replay left %s", name)
	}

	// A range that changes a view cannot be replayed: exit 9, naming the
	// statement, and the target (restored before) is as it was.
	srv.Exec(t, src, "CREATE VIEW big_loans AS SELECT id FROM loans WHERE amount > 1000")
	nextSecond(t, db)
	past := nextSecond(t, db)
	r = run(t, nil, nil, append(append([]string{"restore", "-D", "pitr_at_t", "--force", "--until", past}, connArgs(srv)...), dir)...)
	if r.code != 9 || !strings.Contains(r.stderr, "CREATE view") || !strings.Contains(r.stderr, "take a dump after it") {
		t.Errorf("restore over a CREATE VIEW: exit %d, want 9 naming it:\n%s", r.code, r.stderr)
	}
	compareState(t, "the target after a refused restore", pitrState(t, db, "pitr_at_t"), before)
	for _, name := range column(t, db, "SHOW DATABASES LIKE 'lms\\_restore\\_%'") {
		t.Errorf("a refused restore left %s", name)
	}

	// A new dump with --keep 1 removes the old dump and the segments only
	// it needed, and keeps the ones it needs.
	srv.Exec(t, src, "FLUSH BINARY LOGS")
	var current string
	var pos int64
	var ignore1, ignore2 any
	mustScan(t, db.QueryRow("SHOW MASTER STATUS"), &current, &pos, &ignore1, &ignore2)
	time.Sleep(1100 * time.Millisecond) // dumps are named by the second
	mustRun(t, append([]string{"-q", "dump", "-D", src, "-o", dir + "/", "--keep", "1"}, connArgs(srv)...)...)
	srv.Exec(t, src, "INSERT INTO loans (borrower, amount) VALUES ('after the last dump', 3)", "FLUSH BINARY LOGS")
	waitFor(t, "the segment of "+current, func() bool {
		_, err := os.Stat(filepath.Join(dir, "lms-binlog."+current+".json"))
		return err == nil
	})
	a.stop(t)
	v = mustRun(t, "verify", dir)
	if !strings.Contains(v.stdout, ": 1 dumps") || !strings.Contains(v.stdout, "gaps: none") {
		t.Errorf("verify after the rotation:\n%s", v.stdout)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "lms-binlog.*.zst"))
	for _, s := range segs {
		if f := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(s), "lms-binlog."), ".zst"); f < current {
			t.Errorf("rotation kept %s, which no kept dump needs (the dump starts in %s)", s, current)
		}
	}
	if len(segs) != 1 {
		t.Errorf("after the rotation the folder has segments %v, want only %s's", segs, current)
	}
}

// TestPITRFaults: the archiver survives a killed connection and a server
// restart without a gap (a restore across both proves it), and reports a
// binary log purged before it was archived as a gap (exit 9).
func TestPITRFaults(t *testing.T) {
	srv, db, src := pitrSource(t, "pitr_src")
	dir := t.TempDir()
	// One connection: its position comes from its own snapshot.
	mustRun(t, append([]string{"-q", "dump", "-D", src, "-o", dir + "/", "--threads", "1"}, connArgs(srv)...)...)
	a := startArchiver(t, srv, dir)
	srv.Exec(t, src, "INSERT INTO loans (borrower, amount) VALUES ('before the kill', 1)")
	waitFor(t, "the archiver's replication connection", func() bool {
		var n int
		mustScan(t, db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'"), &n)
		return n > 0
	})
	var id int64
	mustScan(t, db.QueryRow("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%' LIMIT 1"), &id)
	srv.Exec(t, "", fmt.Sprintf("KILL %d", id))
	srv.Exec(t, src, "UPDATE loans SET amount = 2 WHERE borrower = 'before the kill'", "INSERT INTO loans (borrower, amount) VALUES ('after the kill', 3)")
	time.Sleep(500 * time.Millisecond)
	srv.Restart(t)
	db = srv.Open(t, "")
	srv.Exec(t, src, "ALTER TABLE payments ADD COLUMN channel VARCHAR(8)", "INSERT INTO payments (loan_id, paid, channel) VALUES (1, 5, 'cash')",
		"INSERT INTO loans (borrower, amount) VALUES ('after the restart', 4)")
	until, atT := markMoment(t, db, src)
	srv.Exec(t, src, "DELETE FROM payments")
	restoreUntil(t, srv, dir, "pitr_faults", 90*time.Second, "--until", until)
	// The restart recomputed the source's AUTO_INCREMENT counters (InnoDB
	// takes MAX(id)+1 at start-up, dropping the batch an INSERT ... SELECT
	// reserved); no event records that, so the counters are left out here.
	compareState(t, "restore after a killed connection and a restart",
		withoutAutoIncrement(pitrState(t, db, "pitr_faults")), withoutAutoIncrement(atT))
	if !a.running() {
		t.Fatalf("the archiver exited (%d) after the faults:\n%s", a.code, a.stderr)
	}
	if !strings.Contains(a.stderr.String(), "reconnecting") {
		t.Errorf("the archiver did not say it reconnected:\n%s", a.stderr)
	}
	// A stream that stops receiving (a connection that died without
	// closing, here a stopped mariadb-binlog) is restarted.
	a.stop(t)
	a = startArchiver(t, srv, dir, "--stall-timeout", "3s")
	var child int
	waitFor(t, "mariadb-binlog under the archiver", func() bool {
		out, _ := exec.Command("pgrep", "-P", fmt.Sprint(a.cmd.Process.Pid), "mariadb-binlog").Output()
		_, err := fmt.Sscan(string(out), &child)
		return err == nil
	})
	syscall.Kill(child, syscall.SIGSTOP)
	// The watch compares the server's position with the one it saw when
	// the spool last grew: the write must come after its first look.
	time.Sleep(1500 * time.Millisecond)
	srv.Exec(t, src, "INSERT INTO loans (borrower, amount) VALUES ('while stalled', 6)")
	waitFor(t, "the stall to be noticed", func() bool {
		if !a.running() {
			t.Fatalf("the archiver exited (%d):\n%s", a.code, a.stderr)
		}
		return strings.Contains(a.stderr.String(), "received nothing")
	}, a.stderr.String)
	until, atT = markMoment(t, db, src)
	srv.Exec(t, src, "DELETE FROM loans")
	restoreUntil(t, srv, dir, "pitr_stalled", 60*time.Second, "--until", until)
	compareState(t, "restore after a stalled stream", withoutAutoIncrement(pitrState(t, db, "pitr_stalled")), withoutAutoIncrement(atT))
	a.stop(t)

	// Purged before archived: a gap, exit 9, one line that says what to do.
	var stopped string
	var pos int64
	var ignore1, ignore2 any
	mustScan(t, db.QueryRow("SHOW MASTER STATUS"), &stopped, &pos, &ignore1, &ignore2)
	srv.Exec(t, "", "FLUSH BINARY LOGS", "FLUSH BINARY LOGS")
	srv.Exec(t, src, "INSERT INTO loans (borrower, amount) VALUES ('lost', 5)")
	srv.Exec(t, "", "FLUSH BINARY LOGS")
	logs := binaryLogs(t, db)
	last := logs[len(logs)-1]
	// The server keeps a file that a replication thread still reads, or
	// that InnoDB's crash recovery may still need (its binlog checkpoint
	// trails by up to a second here): purge until the file the archiver
	// stopped in is gone.
	waitFor(t, "the purge of "+stopped, func() bool {
		srv.Exec(t, "", "PURGE BINARY LOGS TO '"+last+"'")
		return !slices.Contains(binaryLogs(t, db), stopped)
	})
	a = startArchiver(t, srv, dir)
	if code := a.wait(t, 30*time.Second); code != 9 {
		t.Fatalf("archiver after a purge: exit %d, want 9:\n%s", code, a.stderr)
	}
	if msg := a.stderr.String(); !strings.Contains(msg, "purged") || !strings.Contains(msg, "--start-file") {
		t.Errorf("the gap message does not say what happened and what to do:\n%s", msg)
	}

	// As the message says: a new dump, then --start-file accepts the gap.
	// The next runs go on without it; verify names the gap and exits 0;
	// a restore from the new dump works, one across the gap does not.
	time.Sleep(1100 * time.Millisecond) // dump names are to the second
	mustRun(t, append([]string{"-q", "dump", "-D", src, "-o", dir + "/", "--threads", "1"}, connArgs(srv)...)...)
	a = startArchiver(t, srv, dir, "--start-file", binaryLogs(t, db)[0])
	srv.Exec(t, src, "INSERT INTO loans (borrower, amount) VALUES ('after the gap', 7)", "FLUSH BINARY LOGS")
	waitFor(t, "a segment after the gap", func() bool { return strings.Contains(a.stderr.String(), "archived a binary log file") }, a.stderr.String)
	a.stop(t)
	a = startArchiver(t, srv, dir)
	srv.Exec(t, src, "INSERT INTO loans (borrower, amount) VALUES ('later', 8)")
	until, atT = markMoment(t, db, src)
	srv.Exec(t, src, "DELETE FROM loans")
	v := mustRun(t, "verify", dir)
	if !strings.Contains(v.stdout, "accepted gap") || !strings.Contains(v.stdout, "gaps: none") {
		t.Errorf("verify after an accepted gap:\n%s", v.stdout)
	}
	restoreUntil(t, srv, dir, "pitr_after_gap", 20*time.Second, "--until", until)
	compareState(t, "restore after an accepted gap", withoutAutoIncrement(pitrState(t, db, "pitr_after_gap")), withoutAutoIncrement(atT))
	if !a.running() {
		t.Fatalf("the archiver stopped over the accepted gap (%d):\n%s", a.code, a.stderr)
	}
	a.stop(t)
}

// TestPITRParallelDump: a --threads 2 dump taken while transactions commit
// records the exact position, so a restore to a later moment equals the
// source at that moment (a wrong position would replay a transaction twice
// or miss one).
func TestPITRParallelDump(t *testing.T) {
	srv, db, src := pitrSource(t, "pitr_par")
	srv.Exec(t, src, "INSERT INTO payments (loan_id, paid) SELECT seq % 60 + 1, seq FROM seq_1_to_20000")
	var file string
	var pos int64
	row := db.QueryRow("SHOW MASTER STATUS")
	var ignore1, ignore2 any
	mustScan(t, row, &file, &pos, &ignore1, &ignore2)
	dir := t.TempDir()
	a := startArchiver(t, srv, dir, "--start-file", file)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wdb := srv.Open(t, src)
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tx, err := wdb.Begin()
			if err == nil {
				_, err = tx.Exec("INSERT INTO payments (loan_id, paid) VALUES (?, ?)", i%60+1, i)
			}
			if err == nil {
				_, err = tx.Exec("UPDATE loans SET amount = amount + 1 WHERE id = ?", i%60+1)
			}
			if err == nil {
				err = tx.Commit()
			}
			if err != nil {
				writeErr = err
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	mustRun(t, append([]string{"-q", "dump", "-D", src, "-o", dir + "/", "--threads", "2"}, connArgs(srv)...)...)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	until, atT := markMoment(t, db, src)
	srv.Exec(t, src, "UPDATE loans SET amount = 0")
	restoreUntil(t, srv, dir, "pitr_par_t", 20*time.Second, "--until", until)
	compareState(t, "restore --until after a --threads 2 dump under writes", pitrState(t, db, "pitr_par_t"), atT)
	a.stop(t)
}

// withoutAutoIncrement drops the AUTO_INCREMENT=N table option.
func withoutAutoIncrement(state map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range state {
		out[k] = autoIncrement.ReplaceAllString(v, "")
	}
	return out
}

var autoIncrement = regexp.MustCompile(` AUTO_INCREMENT=[0-9]+`)

// binaryLogs lists the server's binary log files.
func binaryLogs(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query("SHOW BINARY LOGS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		var size any
		if err := rows.Scan(&name, &size); err != nil {
			t.Fatal(err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// column returns the first column of a query's rows.
func column(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// execOne runs stmts on one connection (a transaction spans them).
func execOne(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range stmts {
		if _, err := conn.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("exec %q: %v", q, err)
		}
	}
}

// waitFor polls cond for up to 20 s; explain, when given, adds to the
// message of a timeout.
func waitFor(t *testing.T, what string, cond func() bool, explain ...func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			more := ""
			for _, e := range explain {
				more += "\n" + e()
			}
			t.Fatalf("timed out waiting for %s%s", what, more)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBinlogMemory: the archiver's heap does not grow with the binary log
// it archives (8 MiB and 64 MiB of row events, 256 KiB rows), measured in
// fresh processes.
func TestBinlogMemory(t *testing.T) {
	srv := pitrServer(t)
	db := srv.Open(t, "")
	src := srv.CreateDB(t, "pitr_mem")
	srv.Exec(t, src, "CREATE TABLE blobs (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB)")
	sdb := srv.Open(t, src)
	var peaks []int64
	for _, mib := range []int{8, 64} {
		var file string
		var pos int64
		var ignore1, ignore2 any
		srv.Exec(t, "", "FLUSH BINARY LOGS")
		mustScan(t, db.QueryRow("SHOW MASTER STATUS"), &file, &pos, &ignore1, &ignore2)
		for i := 0; i < mib*4; i++ {
			if _, err := sdb.Exec("INSERT INTO blobs (b) SELECT REPEAT(SHA2(RAND(), 512), 2048)"); err != nil {
				t.Fatal(err)
			}
		}
		srv.Exec(t, "", "FLUSH BINARY LOGS")
		dir := t.TempDir()
		stats := filepath.Join(t.TempDir(), "stats.json")
		a := startArchiver(t, srv, dir, "--start-file", file, "--stats-json", stats)
		waitFor(t, "the segment of "+file, func() bool {
			_, err := os.Stat(filepath.Join(dir, "lms-binlog."+file+".json"))
			return err == nil
		})
		a.stop(t)
		data, err := os.ReadFile(stats)
		if err != nil {
			t.Fatalf("no --stats-json: %v\n%s", err, a.stderr)
		}
		var s memStats
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d MiB of binary log: peak heap %.1f MiB, peak RSS %.1f MiB", mib, float64(s.PeakHeap)/(1<<20), float64(s.PeakRSS)/(1<<20))
		peaks = append(peaks, s.PeakHeap)
		if s.PeakHeap > 32<<20 {
			t.Errorf("%d MiB of binary log: peak heap %d bytes, budget 32 MiB", mib, s.PeakHeap)
		}
	}
	if peaks[1] > peaks[0]+8<<20 {
		t.Errorf("peak heap grew from %d to %d bytes with 8x the binary log", peaks[0], peaks[1])
	}
}

// TestPITREncrypted: with --encrypt-to the segments are age files, and a
// restore to a moment with --identity equals the source at that moment.
func TestPITREncrypted(t *testing.T) {
	srv, db, src := pitrSource(t, "pitr_enc")
	keys := t.TempDir()
	identity, recipient := ageKeys(t, keys, "backup")
	dir := t.TempDir()
	mustRun(t, append([]string{"-q", "dump", "-D", src, "-o", dir + "/", "--encrypt-to", recipient}, connArgs(srv)...)...)
	a := startArchiver(t, srv, dir, "--encrypt-to", recipient, "--identity", identity)
	srv.Exec(t, src, "UPDATE loans SET note = 'سر الإيصال' WHERE id = 5", "FLUSH BINARY LOGS",
		"INSERT INTO loans (borrower, amount) VALUES ('in the spool', 9)")
	until, atT := markMoment(t, db, src)
	srv.Exec(t, src, "DELETE FROM loans")
	waitFor(t, "an encrypted segment", func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "lms-binlog.*.zst.age"))
		return len(m) > 0
	})
	restoreUntil(t, srv, dir, "pitr_enc_t", 20*time.Second, "--until", until, "--identity", identity)
	compareState(t, "encrypted restore --until", pitrState(t, db, "pitr_enc_t"), atT)
	a.stop(t)
	segs, _ := filepath.Glob(filepath.Join(dir, "lms-binlog.*.zst*"))
	for _, s := range segs {
		if !strings.HasSuffix(s, ".age") {
			t.Errorf("segment %s is not encrypted", s)
		}
		data, _ := os.ReadFile(s)
		if !bytes.HasPrefix(data, []byte("age-encryption.org/")) {
			t.Errorf("segment %s is not an age file", s)
		}
	}
	mustRun(t, "verify", "--identity", identity, dir)
	if r := run(t, nil, nil, "verify", dir); r.code != 2 || !strings.Contains(r.stderr, "--identity") {
		t.Errorf("verify of an encrypted archive without --identity: exit %d, want 2 asking for it:\n%s", r.code, r.stderr)
	}
}

// TestPITRBucket: the archive in a bucket, next to the nightly dumps: the
// segments and the partial copy of the file being written are uploaded,
// and a restore from the bucket alone (no spool) reaches the moment.
func TestPITRBucket(t *testing.T) {
	srv, db, src := pitrSource(t, "pitr_s3")
	s3 := s3Server(t)
	bucket := s3.CreateBucket(t)
	env := s3Env(s3, tests3.SecretKey)
	loc := "s3://" + bucket + "/lms/"
	if r := run(t, nil, env, append([]string{"-q", "dump", "-D", src, "-o", loc}, connArgs(srv)...)...); r.code != 0 {
		t.Fatalf("dump to the bucket: exit %d\n%s", r.code, r.stderr)
	}
	spool := t.TempDir()
	a := startArchiverEnv(t, srv, loc, env, "--spool-dir", spool, "--upload-every", "1s")
	srv.Exec(t, src, "UPDATE loans SET amount = amount + 1 WHERE id < 20", "FLUSH BINARY LOGS",
		"INSERT INTO loans (borrower, amount) VALUES ('only in the partial copy', 9)")
	until, atT := markMoment(t, db, src)
	srv.Exec(t, src, "DELETE FROM loans WHERE id > 3")
	restoreUntilEnv(t, srv, loc, "pitr_s3_t", 30*time.Second, env, "--until", until)
	compareState(t, "restore --until from the bucket", pitrState(t, db, "pitr_s3_t"), atT)
	keys := strings.Join(objects(t, s3, bucket, "lms/"), " ")
	if !strings.Contains(keys, "lms/lms-binlog.") || !strings.Contains(keys, "lms/lms-binlog-partial.") {
		t.Errorf("the bucket holds %s; want segments and a partial copy", keys)
	}
	v := run(t, nil, env, "verify", loc)
	if v.code != 0 || !strings.Contains(v.stdout, "gaps: none") || !strings.Contains(v.stdout, "uploaded up to position") {
		t.Errorf("verify %s: exit %d\n%s%s", loc, v.code, v.stdout, v.stderr)
	}
	a.stop(t)
	if r := run(t, nil, nil, append([]string{"binlog", "-o", loc}, connArgs(srv)...)...); r.code != 2 || !strings.Contains(r.stderr, "--spool-dir") {
		t.Errorf("binlog to a bucket without --spool-dir: exit %d, want 2:\n%s", r.code, r.stderr)
	}
}

// TestBinlogChecks: the archiver's start-up checks, each one line with
// what to do and its exit code.
func TestBinlogChecks(t *testing.T) {
	srv := testdb.Get(t) // binlog_format MIXED, the server's default
	db := srv.Open(t, "")
	src := srv.CreateDB(t, "binlog_checks")
	srv.Exec(t, src, "CREATE TABLE t (id INT PRIMARY KEY)")
	dir := t.TempDir()

	t.Run("empty folder", func(t *testing.T) {
		r := run(t, nil, nil, append([]string{"binlog", "-o", dir}, connArgs(srv)...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "take a dump into it first") {
			t.Errorf("exit %d, want 2 asking for a dump:\n%s", r.code, r.stderr)
		}
	})
	mustRun(t, append([]string{"-q", "dump", "-D", src, "-o", dir + "/"}, connArgs(srv)...)...)

	t.Run("not ROW, and a second archiver", func(t *testing.T) {
		a := startArchiver(t, srv, dir)
		waitFor(t, "the warning", func() bool { return strings.Contains(a.stderr.String(), "binlog_format is not ROW") }, a.stderr.String)
		r := run(t, nil, nil, append([]string{"binlog", "-o", dir}, connArgs(srv)...)...)
		if r.code != 8 {
			t.Errorf("a second archiver into the same folder: exit %d, want 8:\n%s", r.code, r.stderr)
		}
		a.stop(t)
	})
	for _, c := range []struct{ user, grants, want string }{
		{"binlog_nopriv", "SELECT, BINLOG MONITOR", "GRANT REPLICATION SLAVE"}, // mariadb-binlog is refused
		{"binlog_nomon", "SELECT", "BINLOG MONITOR"},                           // SHOW BINARY LOGS is refused
	} {
		t.Run("only "+c.grants, func(t *testing.T) {
			srv.Exec(t, "", "CREATE USER IF NOT EXISTS "+c.user+"@localhost", "GRANT "+c.grants+" ON *.* TO "+c.user+"@localhost")
			t.Cleanup(func() { db.Exec("DROP USER IF EXISTS " + c.user + "@localhost") })
			r := run(t, nil, nil, "binlog", "-o", dir, "--no-defaults", "--socket", srv.Socket, "--user", c.user)
			if r.code != 3 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, want 3 naming the grant (%s):\n%s", r.code, c.want, r.stderr)
			}
		})
	}
	t.Run("bad restore --until input", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "x.sql.zst")
		os.WriteFile(file, []byte("x"), 0o600)
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--until", "yesterday", dir}, "YYYY-MM-DD HH:MM:SS"},
			{[]string{"--until-gtid", "0-1", dir}, "DOMAIN-SERVER-SEQUENCE"},
			{[]string{"--until", "2026-12-02 10:00:00", "--until-gtid", "0-1-2", dir}, "not both"},
			{[]string{"--until", "2026-12-02 10:00:00", "--in-place", dir}, "drop --in-place"},
			{[]string{"--until", "2026-12-02 10:00:00", file}, "not a folder"},
			{[]string{"--until", "2026-12-02 10:00:00"}, "name it"},
			{[]string{"--until", "2026-12-02 10:00:00", "--source-database", "nope", dir}, "no dump of database nope"},
		} {
			r := run(t, nil, nil, append(append([]string{"restore", "-D", "never_made"}, connArgs(srv)...), c.args...)...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != 2 || !strings.Contains(r.stderr, c.want) || len(lines) != 1 {
				t.Errorf("restore %v: exit %d, want 2 and one line with %q:\n%s", c.args, r.code, c.want, r.stderr)
			}
		}
	})
	t.Run("log_bin off", func(t *testing.T) {
		off := testdb.StartExtra(t, "--skip-log-bin")
		r := run(t, nil, nil, append([]string{"binlog", "-o", t.TempDir(), "--start-file", "binlog.000001"}, connArgs(off)...)...)
		if r.code != 2 || !strings.Contains(r.stderr, "set log_bin") {
			t.Errorf("exit %d, want 2 saying to set log_bin:\n%s", r.code, r.stderr)
		}
	})
}

// TestBinlogGap: a segment missing between two others is a gap: verify,
// the archiver and a restore to a moment across it exit 9.
func TestBinlogGap(t *testing.T) {
	srv, db, src := pitrSource(t, "pitr_gap")
	dir := t.TempDir()
	mustRun(t, append([]string{"-q", "dump", "-D", src, "-o", dir + "/"}, connArgs(srv)...)...)
	a := startArchiver(t, srv, dir)
	for i := range 3 {
		srv.Exec(t, src, fmt.Sprintf("INSERT INTO loans (borrower, amount) VALUES ('round %d', 1)", i), "FLUSH BINARY LOGS")
	}
	until := nextSecond(t, db)
	nextSecond(t, db)
	srv.Exec(t, src, "DELETE FROM loans", "FLUSH BINARY LOGS")
	waitFor(t, "four segments", func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "lms-binlog.*.json"))
		return len(m) >= 4
	})
	a.stop(t)
	m, _ := filepath.Glob(filepath.Join(dir, "lms-binlog.*.json"))
	middle := strings.TrimSuffix(m[1], ".json")
	os.Remove(middle + ".json")
	os.Remove(middle + ".zst")

	if r := run(t, nil, nil, "verify", dir); r.code != 9 || !strings.Contains(r.stdout, "gaps: ") {
		t.Errorf("verify over a gap: exit %d, want 9:\n%s%s", r.code, r.stdout, r.stderr)
	}
	a = startArchiver(t, srv, dir)
	if code := a.wait(t, 30*time.Second); code != 9 || !strings.Contains(a.stderr.String(), "is followed by") {
		t.Errorf("archiver over a gap: exit %d, want 9:\n%s", code, a.stderr)
	}
	r := run(t, nil, nil, append(append([]string{"restore", "-D", "pitr_gap_t", "--create-database", "--until", until}, connArgs(srv)...), dir)...)
	if r.code != 9 {
		t.Errorf("restore --until across a gap: exit %d, want 9:\n%s", r.code, r.stderr)
	}
}

// TestPITRHostile: the hostile fixture (issue 11's database), dumped, then
// changed through the binary log in every kind of table it has (gbk keys
// with bytes that map to no Unicode, system-versioned tables with and
// without a key, MyISAM under a MERGE, a cycling sequence, triggers that
// write, a name made to end a comment), and restored to the moment after:
// strictCompare against the source at that moment (definitions,
// CHECKSUM TABLE EXTENDED, history, views' rows, functions' results,
// triggers' effects).
func TestPITRHostile(t *testing.T) {
	srv := pitrServer(t)
	db := srv.Open(t, "")
	src := loadFixture(t, srv, "hostile_pitr", "hostile.sql")
	other := srv.CreateDB(t, "hostile_other")
	srv.Exec(t, other, "CREATE TABLE later (id INT PRIMARY KEY)")
	dir := t.TempDir()
	mustRun(t, append([]string{"-q", "dump", "-D", src, "-o", dir + "/", "--threads", "2"}, connArgs(srv)...)...)
	a := startArchiver(t, srv, dir)
	srv.Exec(t, src,
		"INSERT INTO `gbk_keys` VALUES (CONVERT(UNHEX('AAA1AAFE41') USING gbk), -1)",
		"UPDATE `gbk_keys` SET `n` = `n` + 1 WHERE `n` < 50",
		"DELETE FROM `gbk_keys` WHERE `n` BETWEEN 100 AND 120",
		"UPDATE `ledger` SET `amount` = `amount` * 2",
		"DELETE FROM `ledger` WHERE `id` = 2",
		"UPDATE `nokey_hist` SET `b` = 'z'",
		"INSERT INTO `m_2024` VALUES (40, NULL)",
		"UPDATE `m_2023` SET `v` = 'changed' WHERE `id` = 1",
		"SELECT NEXTVAL(`ticket`)",
		"INSERT INTO `paths` VALUES (5, 'w')",
		"INSERT INTO `*/ DROP DATABASE mysql; /*` VALUES (9)",
		"UPDATE `docs` SET `j` = '[{\"a\": 9}]' WHERE `id` = 2",
		"INSERT INTO `enums` VALUES (5, 'b', 'x')",
		"ALTER TABLE `places` ADD COLUMN `note` VARCHAR(10) DEFAULT 'n'",
		"INSERT INTO `places` (`id`, `a`, `b`, `t`, `g`) VALUES (3, 3, 3, 'zarqa', POINT(36.1, 32.1))")
	until := nextSecond(t, db)
	nextSecond(t, db)
	srv.Exec(t, other, "INSERT INTO later VALUES (1)") // an event after the moment, elsewhere
	restoreUntil(t, srv, dir, "hostile_at_t", 20*time.Second, "--until", until)
	a.stop(t)
	dst := "hostile_at_t"
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + ident(dst)) })
	strictCompare(t, srv, src, dst)
}
