package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lms-backup/cli"
	"lms-backup/dumpfile"
	"lms-backup/internal/testdb"
)

// smallDump creates a small database, dumps it and returns the database
// name and the dump file.
func smallDump(t *testing.T, srv *testdb.Server) (string, string) {
	t.Helper()
	db := srv.CreateDB(t, "bad")
	srv.Exec(t, db,
		"CREATE TABLE t (id INT PRIMARY KEY, v TEXT)",
		"INSERT INTO t SELECT seq, REPEAT(SHA2(seq, 256), 20) FROM seq_1_to_3000")
	out := filepath.Join(t.TempDir(), "small.sql.zst")
	mustRun(t, append([]string{"--quiet", "dump", "-D", db, "-o", out}, connArgs(srv)...)...)
	return db, out
}

// TestBadInput runs every kind of bad input through the real binary: each
// gets one line on stderr, its documented exit code, and nothing is left
// under the output name.
func TestBadInput(t *testing.T) {
	srv := testdb.Get(t)
	db, good := smallDump(t, srv)
	srv.Exec(t, "", "CREATE USER IF NOT EXISTS 'lms_pw'@'localhost' IDENTIFIED BY 'right-pw-1'",
		"CREATE USER IF NOT EXISTS 'lms_pw'@'127.0.0.1' IDENTIFIED BY 'right-pw-1'",
		"GRANT ALL ON *.* TO 'lms_pw'@'localhost'", "GRANT ALL ON *.* TO 'lms_pw'@'127.0.0.1'")
	wrong := srv.Config.Clone()
	wrong.User, wrong.Passwd = "lms_pw", "Wr0ng-S3cret"

	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.sql.zst")
	os.WriteFile(truncated, data[:len(data)*2/3], 0o600)
	corrupt := filepath.Join(dir, "corrupt.sql.zst")
	bad := append([]byte(nil), data...)
	bad[len(bad)/2] ^= 0x55
	os.WriteFile(corrupt, bad, 0o600)
	notDump := filepath.Join(dir, "notes.sql")
	os.WriteFile(notDump, []byte("SELECT 1;\n"), 0o600)
	noFolder := filepath.Join(dir, "missing", "out.sql.zst")
	// The tests run as root, whom file modes do not stop: sysfs refuses to
	// create a file even for root, so /sys/ is a folder nobody can write.
	readOnly := "/sys/"
	noSchema := dumpWithoutSchema(t, good)

	conn := connArgs(srv)
	restoreInto := func(target string, extra ...string) []string {
		return append(append(append([]string{"--quiet", "restore", "-D", target}, extra...), conn...), good)
	}
	long := strings.Repeat("n", 65)
	dumpTo := func(out string, extra ...string) []string {
		return append(append([]string{"--quiet", "dump", "-D", db, "-o", out}, extra...), conn...)
	}
	tests := []struct {
		name   string
		args   []string
		env    []string
		code   int
		want   string // in the error line
		output string // must not exist afterwards
	}{
		{name: "unreachable host", args: []string{"--quiet", "dump", "-D", db, "-o", filepath.Join(dir, "a.sql.zst"), "--no-defaults", "--host", "127.0.0.1", "--port", "1", "--user", "root"},
			code: cli.ExitConnect, want: "127.0.0.1:1", output: filepath.Join(dir, "a.sql.zst")},
		{name: "missing socket", args: []string{"--quiet", "dump", "-D", db, "-o", filepath.Join(dir, "b.sql.zst"), "--no-defaults", "--socket", filepath.Join(dir, "no.sock"), "--user", "root"},
			code: cli.ExitConnect, want: "no.sock", output: filepath.Join(dir, "b.sql.zst")},
		{name: "wrong password in DSN", args: []string{"--quiet", "dump", "-D", db, "-o", filepath.Join(dir, "c.sql.zst")}, env: []string{"LMS_DSN=" + wrong.FormatDSN()},
			code: cli.ExitConnect, want: "access denied", output: filepath.Join(dir, "c.sql.zst")},
		{name: "wrong password in MYSQL_PWD", args: []string{"--quiet", "dump", "-D", db, "-o", filepath.Join(dir, "m.sql"), "--dsn", wrong.User + "@" + wrong.Net + "(" + wrong.Addr + ")/"}, env: []string{"MYSQL_PWD=Wr0ng-S3cret"}, code: cli.ExitConnect, want: "access denied", output: filepath.Join(dir, "m.sql")},
		{name: "unknown database", args: append([]string{"--quiet", "dump", "-D", "no_such_db", "-o", filepath.Join(dir, "d.sql.zst")}, conn...),
			code: cli.ExitConnect, want: "no_such_db", output: filepath.Join(dir, "d.sql.zst")},
		{name: "output folder missing", args: dumpTo(noFolder), code: cli.ExitOutput, want: "missing", output: noFolder},
		{name: "output under a file", args: dumpTo(filepath.Join(good, "x.sql.zst")), code: cli.ExitOutput, want: "not a directory"},
		{name: "output folder (DIR/) missing", args: dumpTo(filepath.Join(dir, "nightly") + "/"), code: cli.ExitOutput, want: "not a folder"},
		{name: "no database", args: append([]string{"--quiet", "dump", "-o", filepath.Join(dir, "e.sql")}, conn...), code: cli.ExitUsage, want: "--database"},
		{name: "no output", args: append([]string{"--quiet", "dump", "-D", db}, conn...), code: cli.ExitUsage, want: "--output"},
		{name: "unknown flag", args: []string{"--quiet", "dump", "--frobnicate"}, code: cli.ExitUsage, want: "frobnicate"},
		{name: "unknown compression", args: dumpTo(filepath.Join(dir, "f.dump"), "--compress", "lz4"), code: cli.ExitUsage, want: "lz4"},
		{name: "compression against extension", args: dumpTo(filepath.Join(dir, "g.sql.gz"), "--compress", "zstd"), code: cli.ExitUsage, want: "extension"},
		{name: "bad size", args: dumpTo(filepath.Join(dir, "h.sql"), "--max-statement-size", "12XB"), code: cli.ExitUsage, want: "12XB"},
		{name: "bad definer", args: dumpTo(filepath.Join(dir, "i.sql"), "--definer", "drop"), code: cli.ExitUsage, want: "keep or strip"},
		{name: "output folder (DIR/) read-only", args: dumpTo(readOnly), code: cli.ExitOutput, want: "writable"},
		{name: "output file in a read-only folder", args: dumpTo(filepath.Join(readOnly, "x.sql.zst")), code: cli.ExitOutput, want: "writable"},
		{name: "dump a database name the server refuses", args: append([]string{"--quiet", "dump", "-D", long, "-o", filepath.Join(dir, "q.sql")}, conn...), code: cli.ExitUsage, want: "at most 64"},
		{name: "restore into a name too long", args: restoreInto(long, "--create-database"), code: cli.ExitUsage, want: "at most 64"},
		{name: "restore into a name with a trailing space", args: restoreInto("trailing ", "--create-database"), code: cli.ExitUsage, want: "ends with a space"},
		{name: "verify a dump missing a table definition", args: []string{"verify", noSchema}, code: cli.ExitBadDump, want: "damaged"},
		{name: "restore a dump missing a table definition", args: append(append([]string{"--quiet", "restore", "--create-database", "-D", "noschema_target"}, conn...), noSchema), code: cli.ExitBadDump, want: "damaged"},
		{name: "no threads", args: dumpTo(filepath.Join(dir, "o.sql"), "--threads", "0"), code: cli.ExitUsage, want: "--threads 0: use 1 to 64"},
		{name: "restore with no threads", args: restoreInto(db, "--threads", "0"), code: cli.ExitUsage, want: "--threads 0: use 1 to 64"},
		{name: "dump with no memory", args: dumpTo(filepath.Join(dir, "r.sql"), "--mem-limit", "0"), code: cli.ExitUsage, want: "--mem-limit 0: use 4.0 MiB or more"},
		{name: "restore with no memory", args: restoreInto(db, "--mem-limit", "0"), code: cli.ExitUsage, want: "--mem-limit 0: use 4.0 MiB or more"},
		{name: "dump with no statement size", args: dumpTo(filepath.Join(dir, "s.sql"), "--max-statement-size", "0"), code: cli.ExitUsage, want: "--max-statement-size 0: use 4.0 KiB to 1.0 GiB"},
		{name: "restore with a dump-only option", args: restoreInto(db, "--max-statement-size", "0"), code: cli.ExitUsage, want: "max-statement-size"},
		{name: "too many threads", args: dumpTo(filepath.Join(dir, "p.sql"), "--threads", "65"), code: cli.ExitUsage, want: "--threads 65: use 1 to 64"},
		{name: "bad log format", args: []string{"--log-format", "xml", "verify", good}, code: cli.ExitUsage, want: "xml"},
		{name: "malformed DSN", args: []string{"--quiet", "dump", "-D", db, "-o", filepath.Join(dir, "n.sql"), "--dsn", "root:Wr0ng-S3cret@tcp(127.0.0.1"}, code: cli.ExitUsage, want: "--dsn"},
		{name: "DSN with host", args: []string{"--quiet", "dump", "-D", db, "-o", filepath.Join(dir, "j.sql"), "--dsn", srv.DSN(""), "--host", "x"}, code: cli.ExitUsage, want: "--host"},
		{name: "unreadable defaults file", args: []string{"--quiet", "dump", "-D", db, "-o", filepath.Join(dir, "k.sql"), "--defaults-file", filepath.Join(dir, "nope.cnf")}, code: cli.ExitUsage, want: "nope.cnf"},
		{name: "verify truncated", args: []string{"verify", truncated}, code: cli.ExitBadDump, want: "truncated"},
		{name: "verify corrupt", args: []string{"verify", corrupt}, code: cli.ExitBadDump, want: "damaged"},
		{name: "verify not a dump", args: []string{"verify", notDump}, code: cli.ExitBadDump, want: "mariadb client"},
		{name: "verify missing file", args: []string{"verify", filepath.Join(dir, "none.sql.zst")}, code: cli.ExitUsage, want: "no such file"},
		{name: "verify option after file", args: []string{"verify", good, "--json"}, code: cli.ExitUsage, want: "before FILE"},
		{name: "restore into missing database", args: append(append([]string{"--quiet", "restore", "-D", "absent_db"}, conn...), good), code: cli.ExitUsage, want: "--create-database"},
		{name: "restore into non-empty database", args: append(append([]string{"--quiet", "restore", "-D", db}, conn...), good), code: cli.ExitRestore, want: "--force"},
		{name: "restore with too many threads", args: append(append([]string{"--quiet", "restore", "-D", db, "--threads", "99"}, conn...), good), code: cli.ExitUsage, want: "use 1 to 64"},
		{name: "restore with no lock wait", args: append(append([]string{"--quiet", "restore", "-D", db, "--lock-wait-timeout", "0s"}, conn...), good), code: cli.ExitUsage, want: "at least 1s"},
		{name: "restore not a dump", args: append(append([]string{"--quiet", "restore", "-D", db}, conn...), notDump), code: cli.ExitBadDump, want: "not an lms-backup dump"},
		{name: "unknown command", args: []string{"backup"}, code: cli.ExitUsage, want: "backup"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, tt.env, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			if tt.code == 0 {
				return
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) != 1 {
				t.Errorf("stderr has %d lines, want one:\n%s", len(lines), r.stderr)
			}
			if !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(tt.want)) {
				t.Errorf("stderr %q does not mention %q", r.stderr, tt.want)
			}
			for _, secret := range []string{"Wr0ng-S3cret", "right-pw-1"} {
				if strings.Contains(r.stderr+r.stdout, secret) {
					t.Errorf("output reveals a password: %s", r.stderr)
				}
			}
			if tt.output != "" {
				if _, err := os.Stat(tt.output); !os.IsNotExist(err) {
					t.Errorf("%s exists after a failed dump", tt.output)
				}
			}
			assertNoTemp(t, dir)
			assertServerIdle(t, srv)
		})
	}
}

// dumpWithoutSchema copies the dump good without its table definitions:
// every other frame is as the dump wrote it, and the trailer is rewritten
// to count and index what is left. It returns the copy's path.
func dumpWithoutSchema(t *testing.T, good string) string {
	t.Helper()
	return reframe(t, good, func(info dumpfile.FrameInfo, data []byte) []byte {
		if info.Kind == dumpfile.KindSchema {
			return nil
		}
		return data
	})
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".lms-backup-tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// TestPasswordSources connects with the password from MYSQL_PWD, a
// password file and a defaults file, and warns about one on the command line.
func TestPasswordSources(t *testing.T) {
	srv := testdb.Get(t)
	if srv.Socket == "" {
		t.Skip("needs the harness's own server on a unix socket (LMS_TEST_DSN is set)")
	}
	db := srv.CreateDB(t, "pw")
	srv.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)",
		"CREATE USER IF NOT EXISTS 'lms_src'@'localhost' IDENTIFIED BY 'p4ss-src'",
		"GRANT ALL ON *.* TO 'lms_src'@'localhost'")
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	os.WriteFile(pwFile, []byte("p4ss-src\n"), 0o600)
	cnf := filepath.Join(dir, "my.cnf")
	os.WriteFile(cnf, []byte("[client]\nuser = lms_src\npassword = \"p4ss-src\"\nsocket = "+srv.Socket+"\n"), 0o600)
	base := []string{"dump", "-D", db}
	sock := []string{"--no-defaults", "--socket", srv.Socket, "--user", "lms_src"}
	tests := []struct {
		name string
		args []string
		env  []string
		warn bool
	}{
		{name: "MYSQL_PWD", args: sock, env: []string{"MYSQL_PWD=p4ss-src"}},
		{name: "password file", args: append(sock, "--password-file", pwFile)},
		{name: "defaults file", args: []string{"--defaults-file", cnf}},
		{name: "command line", args: append(sock, "--password", "p4ss-src"), warn: true},
		{name: "DSN in LMS_DSN", env: []string{"LMS_DSN=lms_src:p4ss-src@unix(" + srv.Socket + ")/"}},
		{name: "DSN on the command line", args: []string{"--dsn", "lms_src:p4ss-src@unix(" + srv.Socket + ")/"}, warn: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, "out"+string(rune('a'+i))+".sql")
			args := append(append(append([]string{}, base...), "-o", out), tt.args...)
			r := run(t, nil, tt.env, args...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if got := strings.Contains(r.stderr, "visible to other local users"); got != tt.warn {
				t.Errorf("warning shown: %v, want %v\n%s", got, tt.warn, r.stderr)
			}
			if strings.Contains(r.stderr, "p4ss-src") {
				t.Errorf("the log reveals the password: %s", r.stderr)
			}
		})
	}
}

// TestRestoreFailureLeavesNothing restores a dump whose statement fails and
// one that is truncated: the target the restore created is gone afterwards.
func TestRestoreFailureLeavesNothing(t *testing.T) {
	srv := testdb.Get(t)
	_, good := smallDump(t, srv)
	data, _ := os.ReadFile(good)
	dir := t.TempDir()
	truncated := filepath.Join(dir, "truncated.sql.zst")
	os.WriteFile(truncated, data[:len(data)-40], 0o600)

	// A hand-made dump; its second table's INSERT fails on the server.
	var buf bytes.Buffer
	w, _ := dumpfile.NewWriter(&buf, dumpfile.Gzip)
	frame := func(s string, info dumpfile.FrameInfo) {
		b := []byte(s)
		if err := w.WriteFrame(&b, info); err != nil {
			t.Fatal(err)
		}
	}
	// The header sets the sql_mode every frame must end under.
	frame(string(dumpfile.AppendHeaderLine(nil, dumpfile.Header{Database: "x"}))+"SET NAMES utf8mb4;\nSET SQL_MODE='NO_AUTO_VALUE_ON_ZERO';\n", dumpfile.FrameInfo{Kind: dumpfile.KindHeader})
	frame("CREATE TABLE `ok` (a INT);\n", dumpfile.FrameInfo{Kind: dumpfile.KindSchema, Table: "ok"})
	frame("INSERT INTO `ok` (`a`) VALUES (1);\n", dumpfile.FrameInfo{Kind: dumpfile.KindData, Table: "ok", Part: 1, Rows: 1})
	// A well-formed file whose INSERT names a column its table lacks: the
	// server rejects the statement.
	frame("CREATE TABLE `missing` (b INT);\n", dumpfile.FrameInfo{Kind: dumpfile.KindSchema, Table: "missing"})
	frame("INSERT INTO `missing` (`a`) VALUES (1);\n", dumpfile.FrameInfo{Kind: dumpfile.KindData, Table: "missing", Part: 1, Rows: 1})
	frame(string(w.AppendTrailer(nil, &dumpfile.Trailer{Tables: []dumpfile.TableSummary{{Name: "ok", Rows: 1}, {Name: "missing", Rows: 1}}})), dumpfile.FrameInfo{Kind: dumpfile.KindTrailer})
	failing := filepath.Join(dir, "failing.sql.gz")
	os.WriteFile(failing, buf.Bytes(), 0o600)

	tests := []struct {
		name, file string
		code       int
		want       string
	}{
		{"statement fails", failing, cli.ExitRestore, "frame 5, statement 1 at byte"},
		{"truncated", truncated, cli.ExitBadDump, "truncated"},
	}
	for _, mode := range [][]string{{"--threads", "2"}, {"--threads", "1", "--in-place"}, {"--threads", "2", "--in-place"}} {
		for _, tt := range tests {
			name := tt.name + " " + strings.Join(mode, " ")
			t.Run(name+" in a new database", func(t *testing.T) {
				target := "gone_" + strings.NewReplacer(" ", "_", "-", "").Replace(name)
				r := run(t, nil, nil, append(append(append([]string{"--quiet", "restore", "--create-database", "-D", target}, mode...), connArgs(srv)...), tt.file)...)
				if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
					t.Fatalf("exit %d, want %d with %q\n%s", r.code, tt.code, tt.want, r.stderr)
				}
				if strings.Contains(r.stderr, "VALUES (1)") {
					t.Errorf("the error shows the row's values: %s", r.stderr)
				}
				var n int
				mustScan(t, srv.Open(t, "").QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", target), &n)
				if n != 0 {
					t.Errorf("database %s still exists after the failed restore", target)
				}
				assertNoStaging(t, srv)
			})
			t.Run(name+" in an empty database", func(t *testing.T) {
				target := srv.CreateDB(t, "empty")
				r := run(t, nil, nil, append(append(append([]string{"--quiet", "restore", "-D", target}, mode...), connArgs(srv)...), tt.file)...)
				if r.code != tt.code {
					t.Fatalf("exit %d, want %d\n%s", r.code, tt.code, r.stderr)
				}
				var n int
				mustScan(t, srv.Open(t, "").QueryRow("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", target), &n)
				if n != 0 {
					t.Errorf("%d tables left in %s after the failed restore", n, target)
				}
				assertNoStaging(t, srv)
				assertServerIdle(t, srv)
			})
		}
	}
}

// TestLockWaitTimeout holds a table lock longer than --lock-wait-timeout:
// the dump gives up with exit 8 and one line saying what to do, instead of
// waiting without end behind production's lock.
func TestLockWaitTimeout(t *testing.T) {
	srv := testdb.Get(t)
	db, _ := smallDump(t, srv)
	lockTable(t, srv, db, "t")
	dir := t.TempDir()
	out := filepath.Join(dir, "locked.sql.zst")
	for _, threads := range []string{"1", "2"} {
		// With two threads the dump first waits for the global lock,
		// then falls back to one connection: the bound covers both.
		start := time.Now()
		r := run(t, nil, nil, append([]string{"--quiet", "dump", "-D", db, "-o", out, "--threads", threads, "--lock-wait-timeout", "4s"}, connArgs(srv)...)...)
		if r.code != cli.ExitBusy || !strings.Contains(r.stderr, "--lock-wait-timeout") {
			t.Fatalf("--threads %s: exit %d, want %d\n%s", threads, r.code, cli.ExitBusy, r.stderr)
		}
		if took := time.Since(start); took > 6*time.Second {
			t.Errorf("--threads %s: gave up after %s, want about 4s", threads, took)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a dump file exists after the timeout")
	}
	assertNoTemp(t, dir)
	assertNoLockWaiters(t, srv)
	assertServerIdle(t, srv)
}

// TestInterruptedDump sends SIGINT or SIGTERM to a dump that waits for a
// table lock: it exits 130 promptly, the previous backup stays, no
// temporary file stays.
func TestInterruptedDump(t *testing.T) {
	srv := testdb.Get(t)
	db, _ := smallDump(t, srv)
	// With one thread the dump waits for the table itself; with two, its
	// control connection waits for the global lock that opens the snapshot.
	for _, threads := range []string{"1", "2"} {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(sig.String()+" threads "+threads, func(t *testing.T) { interruptDump(t, srv, db, sig, threads) })
		}
	}
}

func interruptDump(t *testing.T, srv *testdb.Server, db string, sig syscall.Signal, threads string) {
	dir := t.TempDir()
	out := filepath.Join(dir, "nightly.sql.zst")
	os.WriteFile(out, []byte("yesterday"), 0o600)

	lockTable(t, srv, db, "t")

	cmd := exec.Command(bin, append([]string{"--quiet", "dump", "-D", db, "-o", out, "--threads", threads}, connArgs(srv)...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the dump is blocked on the lock.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		mustScan(t, srv.Open(t, "").QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "+lockWaitStates), &n)
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the dump never waited for the lock")
		}
		time.Sleep(50 * time.Millisecond)
	}
	interrupt(t, cmd, sig, &stderr)
	if got, _ := os.ReadFile(out); string(got) != "yesterday" {
		t.Errorf("the previous backup was replaced")
	}
	assertNoTemp(t, dir)
	// The dump's statement was waiting on the server: it must not stay
	// there holding a thread after the client is gone.
	assertNoLockWaiters(t, srv)
	assertServerIdle(t, srv)
}

// interrupt sends sig to a running command and fails the test unless it
// exits 130 within 20 s.
func interrupt(t *testing.T, cmd *exec.Cmd, sig syscall.Signal, stderr *bytes.Buffer) {
	t.Helper()
	cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%s did not stop within 20s of %v", cmd.Args[2], sig)
	}
	if code := cmd.ProcessState.ExitCode(); code != cli.ExitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, cli.ExitInterrupted, stderr.String())
	}
}

// assertServerIdle checks that no statement of a finished (failed) run is
// still running on the server: the old system exhausted its pool with
// connections its failures left behind.
func assertServerIdle(t *testing.T, srv *testdb.Server) {
	t.Helper()
	root := srv.Open(t, "")
	deadline := time.Now().Add(2 * time.Second)
	for {
		var n int
		mustScan(t, root.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND NOT IN ('Sleep', 'Daemon') AND ID <> CONNECTION_ID() AND USER NOT IN ('system user', 'event_scheduler')"), &n)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d statements still run on the server after the failed run ended", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockWaitStates matches the server threads that wait for a lock: on a
// table, or (a dump with several threads opening its snapshot) the global
// backup lock.
const lockWaitStates = "(STATE LIKE '%metadata lock%' OR STATE LIKE '%table lock%' OR STATE LIKE '%backup lock%')"

// assertNoLockWaiters checks that no server thread is still waiting for a
// table lock once the interrupted client has exited: its statement must
// have been killed before the exit. (MariaDB notices a vanished client in
// a lock wait only at its next poll, about a second later, and a running
// INSERT not before it ends; the 300 ms grace tells the two apart.)
func assertNoLockWaiters(t *testing.T, srv *testdb.Server) {
	t.Helper()
	root := srv.Open(t, "")
	deadline := time.Now().Add(300 * time.Millisecond)
	for {
		var n int
		mustScan(t, root.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "+lockWaitStates), &n)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			waiting := names(t, root, "SELECT CONCAT(ID, ' ', STATE), IFNULL(INFO, '') FROM information_schema.PROCESSLIST WHERE "+lockWaitStates)
			t.Fatalf("%d server threads still wait for a lock after the client exited: its statement was not killed: %q", n, waiting)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockTable holds LOCK TABLES table WRITE on a connection of its own, as
// a long job in production would, until the returned func (also run when
// the test ends) releases it.
func lockTable(t *testing.T, srv *testdb.Server, db, table string) (unlock func()) {
	t.Helper()
	conn := srv.Open(t, db)
	conn.SetMaxOpenConns(1)
	if _, err := conn.Exec("LOCK TABLES " + ident(table) + " WRITE"); err != nil {
		t.Fatal(err)
	}
	unlock = sync.OnceFunc(func() { conn.Exec("UNLOCK TABLES") })
	t.Cleanup(unlock)
	return unlock
}
