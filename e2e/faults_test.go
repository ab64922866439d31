package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lms-backup/cli"
	"lms-backup/internal/testdb"
)

// TestDiskFull dumps into a 256 KiB tmpfs that already holds last night's
// dump: the run fails with one line naming the cause and exit 5, last
// night's file is untouched and no temporary file is left. Mounting needs
// root; CI runs as root.
func TestDiskFull(t *testing.T) {
	srv := testdb.Get(t)
	db, _ := smallDump(t, srv)
	mnt := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).CombinedOutput(); err != nil {
		if os.Geteuid() != 0 && os.Getenv("CI") == "" {
			t.Skipf("mounting a small tmpfs needs root: %s", out)
		}
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	last := filepath.Join(mnt, "nightly.sql")
	if err := os.WriteFile(last, []byte("last night"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, nil, append([]string{"--quiet", "dump", "-D", db, "-o", last}, connArgs(srv)...)...)
	if r.code != cli.ExitOutput || !strings.Contains(r.stderr, "no space left on device") {
		t.Fatalf("exit %d, want %d naming the full disk\n%s", r.code, cli.ExitOutput, r.stderr)
	}
	if n := len(strings.Split(strings.TrimSpace(r.stderr), "\n")); n != 1 {
		t.Errorf("stderr has %d lines, want one:\n%s", n, r.stderr)
	}
	if got, _ := os.ReadFile(last); string(got) != "last night" {
		t.Error("last night's dump was changed")
	}
	assertNoTemp(t, mnt)
	assertServerIdle(t, srv)
}

// TestServerKilledMidDump kills the server (SIGKILL) while a dump is
// reading from it: the dump exits 3 with one line saying the connection
// was lost, and last night's file stays as it was.
func TestServerKilledMidDump(t *testing.T) {
	srv := testdb.StartExtra(t)
	db := "doomed" // no drop at cleanup: the server will be dead, its folder removed
	srv.Exec(t, "", "CREATE DATABASE "+db)
	srv.Exec(t, db, "CREATE TABLE a (id INT PRIMARY KEY)", "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	lockTable(t, srv, db, "t")
	dir := t.TempDir()
	out := filepath.Join(dir, "nightly.sql.zst")
	os.WriteFile(out, []byte("last night"), 0o600)
	cmd := exec.Command(bin, "--quiet", "dump", "-D", db, "-o", out, "--dsn", srv.DSN(""))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForLockWait(t, srv)
	srv.Kill(t)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the dump did not notice the server's death within 30 s")
	}
	if code := cmd.ProcessState.ExitCode(); code != cli.ExitConnect || !strings.Contains(stderr.String(), "lost the connection") {
		t.Fatalf("exit %d, want %d saying the connection was lost\n%s", code, cli.ExitConnect, stderr.String())
	}
	if n := len(strings.Split(strings.TrimSpace(stderr.String()), "\n")); n != 1 {
		t.Errorf("stderr has %d lines, want one:\n%s", n, stderr.String())
	}
	if got, _ := os.ReadFile(out); string(got) != "last night" {
		t.Error("last night's dump was changed")
	}
	assertNoTemp(t, dir)
}

// TestConnectionKilledMidDump kills the dump's connection from the server
// side (as a DBA's KILL or a proxy's idle cut would): exit 3, one line.
func TestConnectionKilledMidDump(t *testing.T) {
	srv := testdb.Get(t)
	db, _ := smallDump(t, srv)
	lockTable(t, srv, db, "t")
	dir := t.TempDir()
	out := filepath.Join(dir, "cut.sql.zst")
	cmd := exec.Command(bin, append([]string{"--quiet", "dump", "-D", db, "-o", out}, connArgs(srv)...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForLockWait(t, srv)
	root := srv.Open(t, "")
	var id int64
	if err := root.QueryRow("SELECT ID FROM information_schema.PROCESSLIST WHERE STATE LIKE '%lock%' LIMIT 1").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Exec(fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the dump succeeded with its connection killed")
	}
	if code := cmd.ProcessState.ExitCode(); code != cli.ExitConnect || !strings.Contains(stderr.String(), "lost the connection") {
		t.Fatalf("exit %d, want %d saying the connection was lost\n%s", code, cli.ExitConnect, stderr.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("a dump file exists after the connection was killed")
	}
	assertNoTemp(t, dir)
	assertServerIdle(t, srv)
}
