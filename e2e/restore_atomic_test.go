package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"lms-backup/cli"
	"lms-backup/internal/testdb"
)

// atomicSource is the database a backup is taken from.
var atomicSource = []string{
	"CREATE TABLE p (id INT PRIMARY KEY, name VARCHAR(40)) CHARSET utf8mb4",
	"CREATE TABLE c (id INT PRIMARY KEY, pid INT, amount DECIMAL(12,3), CONSTRAINT fk_c_p FOREIGN KEY (pid) REFERENCES p (id))",
	"CREATE TABLE q (id INT PRIMARY KEY)",
	"CREATE SEQUENCE s START WITH 100",
	"INSERT INTO p VALUES (1, 'سارة'), (2, 'خالد'), (3, 'new three')",
	"INSERT INTO c VALUES (1, 1, 100.125), (2, 2, 200.250), (3, 3, 300.375)",
	"INSERT INTO q VALUES (1), (2)",
	"CREATE VIEW v AS SELECT c.id, p.name FROM c JOIN p ON p.id = c.pid",
	"CREATE TRIGGER c_ins BEFORE INSERT ON c FOR EACH ROW SET NEW.amount = NEW.amount * 2",
	"CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 2",
	"CREATE EVENT e ON SCHEDULE EVERY 1 DAY STARTS '2031-01-01' DO DELETE FROM q WHERE id < 0",
}

// atomicTarget is the production database the backup is restored over:
// other rows, a table and objects the dump does not know, a view where the
// dump has a table, and objects of the same name defined differently.
var atomicTarget = []string{
	"CREATE TABLE p (id INT PRIMARY KEY, name VARCHAR(40)) CHARSET utf8mb4",
	"CREATE TABLE c (id INT PRIMARY KEY, pid INT, amount DECIMAL(12,3), CONSTRAINT fk_c_p FOREIGN KEY (pid) REFERENCES p (id))",
	"INSERT INTO p VALUES (1, 'old one'), (2, 'old two')",
	"INSERT INTO c VALUES (1, 1, 10.5), (2, 2, 20.25)",
	"CREATE TABLE extra (id INT PRIMARY KEY)",
	"INSERT INTO extra VALUES (7)",
	"CREATE VIEW q AS SELECT id FROM p",
	"CREATE VIEW v AS SELECT id, pid FROM c",
	"CREATE TRIGGER c_ins BEFORE INSERT ON c FOR EACH ROW SET NEW.amount = NEW.amount + 1",
	"CREATE TRIGGER extra_ins BEFORE INSERT ON extra FOR EACH ROW SET NEW.id = NEW.id",
	"CREATE PROCEDURE only_here() SELECT 1",
	"CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1",
}

// TestAtomicRestore restores a backup over a production database: on
// success the dump's objects replace those of the same name and the rest
// stays; on every failure (a damaged file, a statement the target rejects
// after the swap, a definer the user may not set, a foreign key from
// outside, a table lock) the target is exactly as it was and no staging
// database or server thread is left.
func TestAtomicRestore(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "atomic_src")
	srv.Exec(t, src, atomicSource...)
	dir := t.TempDir()
	file := filepath.Join(dir, "src.sql.zst")
	mustRun(t, append([]string{"--quiet", "dump", "-D", src, "-o", file}, connArgs(srv)...)...)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.sql.zst")
	os.WriteFile(truncated, data[:len(data)-40], 0o600)

	// production returns a target and an untouched twin to compare with.
	production := func(t *testing.T, extra ...string) (target, twin string) {
		target, twin = srv.CreateDB(t, "atomic_target"), srv.CreateDB(t, "atomic_twin")
		srv.Exec(t, target, append(atomicTarget, extra...)...)
		srv.Exec(t, twin, append(atomicTarget, extra...)...)
		return target, twin
	}
	restore := func(target, file string, env, args []string) result {
		argv := append([]string{"--quiet", "restore", "--force", "-D", target}, args...)
		if env == nil {
			argv = append(argv, connArgs(srv)...)
		}
		return run(t, nil, env, append(argv, file)...)
	}

	t.Run("success", func(t *testing.T) {
		target, _ := production(t)
		r := restore(target, file, nil, nil)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		// What the target should hold: the dump, plus what only it had.
		want := srv.CreateDB(t, "atomic_want")
		mustRun(t, append(append([]string{"--quiet", "restore", "-D", want}, connArgs(srv)...), file)...)
		srv.Exec(t, want, atomicTarget[4], atomicTarget[5], atomicTarget[9], atomicTarget[10])
		compareDatabases(t, srv, want, target)
		assertNoStaging(t, srv)
	})

	failures := []struct {
		name  string
		extra []string // statements added to the target (and its twin)
		file  string
		// setup prepares the run and returns its arguments, environment
		// and a func to call after it.
		setup func(t *testing.T, target string) (args, env []string, after func())
		code  int
		want  string
	}{
		{name: "truncated file", file: truncated, code: cli.ExitBadDump, want: "truncated"},
		{
			// The dump's view v meets a table v: fine in the staging
			// database, fails after the swap, so the swap is rolled back.
			name: "fails after the swap", extra: []string{"DROP VIEW v", "CREATE TABLE v (id INT)", "INSERT INTO v VALUES (5)"},
			file: file, code: cli.ExitRestore, want: "already exists",
		},
		{
			name: "foreign key from outside", extra: []string{"CREATE TABLE ref (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES p (id))"},
			file: file, code: cli.ExitRestore, want: "--in-place",
		},
		{
			name: "table locked", file: file, code: cli.ExitBusy, want: "lock-wait-timeout",
			setup: func(t *testing.T, target string) ([]string, []string, func()) {
				return []string{"--lock-wait-timeout", "1s"}, nil, lockTable(t, srv, target, "c")
			},
		},
		{
			// Without SET USER the dump's DEFINER=root objects cannot be
			// created: the rehearsal in the staging database finds out.
			name: "definer not allowed", file: file, code: cli.ExitRestore, want: "staging database",
			setup: func(t *testing.T, target string) ([]string, []string, func()) {
				srv.Exec(t, "", "CREATE USER atomic_lim@localhost IDENTIFIED BY 'lim-pw'",
					"GRANT ALL ON `"+target+"`.* TO atomic_lim@localhost",
					"GRANT ALL ON `lms\\_restore\\_%`.* TO atomic_lim@localhost")
				t.Cleanup(func() { srv.Exec(t, "", "DROP USER atomic_lim@localhost") })
				return []string{"--socket", srv.Config.Addr, "--user", "atomic_lim"}, []string{"MYSQL_PWD=lim-pw"}, nil
			},
		},
		{
			// A user who may not create the staging database is told what to
			// grant, or to restore --in-place.
			name: "no staging database allowed", file: file, code: cli.ExitRestore, want: "--in-place",
			setup: func(t *testing.T, target string) ([]string, []string, func()) {
				srv.Exec(t, "", "CREATE USER atomic_nostage@localhost IDENTIFIED BY 'ns-pw'",
					"GRANT ALL ON `"+target+"`.* TO atomic_nostage@localhost")
				t.Cleanup(func() { srv.Exec(t, "", "DROP USER atomic_nostage@localhost") })
				return []string{"--socket", srv.Config.Addr, "--user", "atomic_nostage"}, []string{"MYSQL_PWD=ns-pw"}, nil
			},
		},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			target, twin := production(t, tt.extra...)
			var args, env []string
			after := func() {}
			if tt.setup != nil {
				if args, env, after = tt.setup(t, target); after == nil {
					after = func() {}
				}
			}
			r := restore(target, tt.file, env, args)
			after()
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Fatalf("exit %d, want %d with one line containing %q:\n%s", r.code, tt.code, tt.want, r.stderr)
			}
			compareDatabases(t, srv, twin, target)
			assertNoStaging(t, srv)
			assertServerIdle(t, srv)
		})
	}
}

// assertNoStaging checks that no staging database of a restore is left.
func assertNoStaging(t *testing.T, srv *testdb.Server) {
	t.Helper()
	left := names(t, srv.Open(t, ""), "SELECT SCHEMA_NAME, '' FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'lms\\_restore\\_%'")
	if len(left) > 0 {
		t.Errorf("staging databases left: %v", left)
	}
}

// TestInterruptedRestore sends SIGTERM to a restore while it loads over a
// production database: it exits 130, the target is as it was, and neither
// the staging database nor a server thread of the restore is left.
func TestInterruptedRestore(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "interrupt_src")
	srv.Exec(t, src, atomicSource...)
	srv.Exec(t, src, "CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(200))",
		"INSERT INTO big SELECT seq, REPEAT(MD5(seq), 6) FROM seq_1_to_200000")
	file := filepath.Join(t.TempDir(), "src.sql.zst")
	mustRun(t, append([]string{"--quiet", "dump", "-D", src, "-o", file}, connArgs(srv)...)...)
	target, twin := srv.CreateDB(t, "interrupt_target"), srv.CreateDB(t, "interrupt_twin")
	srv.Exec(t, target, atomicTarget...)
	srv.Exec(t, twin, atomicTarget...)

	cmd := exec.Command(bin, append(append([]string{"--quiet", "restore", "--force", "--threads", "2", "-D", target}, connArgs(srv)...), file)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until rows of big arrive in the staging database.
	root := srv.Open(t, "")
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		mustScan(t, root.QueryRow(`SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA LIKE 'lms\_restore\_%' AND TABLE_NAME = 'big'`), &n)
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the restore never loaded table big: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	interrupt(t, cmd, syscall.SIGTERM, &stderr)
	if msg := stderr.String(); !strings.Contains(msg, "(the target database is as it was)") || strings.Contains(msg, "final name") {
		t.Errorf("the error line does not say the target is as it was: %s", msg)
	}
	compareDatabases(t, srv, twin, target)
	assertNoStaging(t, srv)
	assertServerIdle(t, srv)
}

// TestRestoreWithoutTables restores dumps with no table at all (an empty
// database, one with a routine only): the swap has nothing to rename.
func TestRestoreWithoutTables(t *testing.T) {
	srv := testdb.Get(t)
	empty, routine := srv.CreateDB(t, "notables"), srv.CreateDB(t, "routineonly")
	srv.Exec(t, routine, "CREATE PROCEDURE p() SELECT 1")
	for _, src := range []string{empty, routine} {
		file := filepath.Join(t.TempDir(), "d.sql.zst")
		mustRun(t, append([]string{"--quiet", "dump", "-D", src, "-o", file}, connArgs(srv)...)...)
		dst := srv.CreateDB(t, "notables_dst")
		mustRun(t, append(append([]string{"--quiet", "restore", "-D", dst}, connArgs(srv)...), file)...)
		if got := names(t, srv.Open(t, ""), "SELECT ROUTINE_NAME, '' FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?", dst); len(got) != map[bool]int{true: 1}[src == routine] {
			t.Errorf("restored routines of %s: %v", src, got)
		}
		assertNoStaging(t, srv)
	}
}

// TestLeftoverStagingDatabases: a staging database whose run is gone (no
// session holds its owner lock) is dropped by the next restore, which says
// so in one line; one whose run is alive (its lock held) is left alone.
func TestLeftoverStagingDatabases(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "leftover_src")
	srv.Exec(t, src, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	out := filepath.Join(t.TempDir(), "small.sql.zst")
	mustRun(t, append([]string{"--quiet", "dump", "-D", src, "-o", out}, connArgs(srv)...)...)

	dead, live := "lms_restore_deadbeef_new", "lms_restore_cafebabe_new"
	srv.Exec(t, "", "CREATE DATABASE "+dead, "CREATE TABLE "+dead+".t (id INT)", "CREATE DATABASE "+live)
	t.Cleanup(func() { srv.Exec(t, "", "DROP DATABASE IF EXISTS "+dead, "DROP DATABASE IF EXISTS "+live) })
	holder := srv.Open(t, "")
	holder.SetMaxOpenConns(1)
	var got int
	if err := holder.QueryRow("SELECT GET_LOCK('lms_restore_cafebabe', 0)").Scan(&got); err != nil || got != 1 {
		t.Fatalf("take the live run's lock: %d %v", got, err)
	}

	dst := srv.CreateDB(t, "leftover_dst")
	r := run(t, nil, nil, append(append([]string{"restore", "-D", dst}, connArgs(srv)...), out)...)
	if r.code != 0 {
		t.Fatalf("restore: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "dropped the staging database of an interrupted restore") || !strings.Contains(r.stderr, dead) {
		t.Errorf("no line about the dropped leftover:\n%s", r.stderr)
	}
	schemas := strings.Join(queryStrings(t, srv.Open(t, ""), "SHOW DATABASES"), " ")
	if strings.Contains(schemas, fmt.Sprintf("%x", dead)) {
		t.Error("the dead run's staging database is still there")
	}
	if !strings.Contains(schemas, fmt.Sprintf("%x", live)) {
		t.Error("the live run's staging database was dropped")
	}
}
