package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"lms-backup/cli"
	"lms-backup/internal/testdb"
	"lms-backup/rotate"
)

// TestNightlyFolder runs the dump the way cron does: -o DIR/ names the
// files, sweeps what a killed run left, keeps the newest dumps only after
// the new one verified, leaves other files alone, and refuses to run while
// another run holds the folder's lock.
func TestNightlyFolder(t *testing.T) {
	srv := testdb.Get(t)
	db := srv.CreateDB(t, "nightly")
	srv.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
	dir := t.TempDir()
	touch := func(name string, age time.Duration) {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("x"), 0o600)
		os.Chtimes(p, time.Now().Add(-age), time.Now().Add(-age))
	}
	old := rotate.Name(db, time.Now().AddDate(0, 0, -30), ".sql.zst")
	touch(old, 0)
	touch("notes.txt", 0)
	touch("other_db-20200101T000000Z.sql.zst", 0)
	touch(".lms-backup-tmp-"+rotate.Name(db, time.Now().Add(-time.Hour), ".sql.zst")+"-12345", time.Hour)

	var list func() []string
	dump := func(extra ...string) result {
		t.Helper()
		return run(t, nil, nil, append(append([]string{"--quiet", "dump", "-D", db, "-o", dir + "/"}, extra...), connArgs(srv)...)...)
	}
	// check returns the one dump of db in the folder, after checking that
	// the unrelated files are still there and nothing else is.
	check := func(when string) string {
		t.Helper()
		var ours []string
		others := map[string]bool{}
		for _, n := range list() {
			if strings.HasPrefix(n, db+"-") {
				ours = append(ours, n)
			} else {
				others[n] = true
			}
		}
		if len(ours) != 1 || len(others) != 2 || !others["notes.txt"] || !others["other_db-20200101T000000Z.sql.zst"] {
			t.Fatalf("%s the folder holds %v: want notes.txt, the other database's dump and one dump of %s", when, list(), db)
		}
		return ours[0]
	}
	list = func() []string {
		entries, _ := os.ReadDir(dir)
		var names []string
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".lock") {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		return names
	}

	if r := dump("--keep-days", "7"); r.code != 0 {
		t.Fatalf("first nightly dump: exit %d: %s", r.code, r.stderr)
	}
	// The 30-day-old dump and the killed run's temp file are gone.
	first := check("after the first run (--keep-days 7)")
	mustRun(t, "verify", filepath.Join(dir, first))

	time.Sleep(1100 * time.Millisecond) // names have one-second resolution
	if r := dump("--keep", "1"); r.code != 0 {
		t.Fatalf("second nightly dump: exit %d: %s", r.code, r.stderr)
	}
	if second := check("after the second run (--keep 1)"); second == first {
		t.Fatalf("--keep 1 kept the older dump %s", first)
	}

	t.Run("lock held", func(t *testing.T) {
		f, err := os.OpenFile(filepath.Join(dir, ".lms-backup-"+db+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Fatal(err)
		}
		r := dump()
		if r.code != cli.ExitBusy || !strings.Contains(r.stderr, "still running") {
			t.Fatalf("exit %d, want %d\n%s", r.code, cli.ExitBusy, r.stderr)
		}
		if got := list(); len(got) != 3 {
			t.Errorf("a refused run changed the folder: %v", got)
		}
	})
	t.Run("keep without a folder", func(t *testing.T) {
		r := run(t, nil, nil, append([]string{"--quiet", "dump", "-D", db, "-o", filepath.Join(dir, "x.sql.zst"), "--keep", "3"}, connArgs(srv)...)...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "-o DIR/") {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
	})
}

// TestKilledRunIsSwept kills a dump with SIGKILL (nothing of ours runs
// then) while it waits for a table lock: its temporary file stays behind
// and its locks die with the process, so the next run, into the same folder
// or to the same file, sweeps the file and writes its dump.
func TestKilledRunIsSwept(t *testing.T) {
	srv := testdb.Get(t)
	db, _ := smallDump(t, srv)
	for _, mode := range []string{"folder", "file"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			out := dir + "/"
			if mode == "file" {
				out = filepath.Join(dir, "lms.sql.zst")
			}
			unlock := lockTable(t, srv, db, "t")
			cmd := exec.Command(bin, append([]string{"--quiet", "dump", "-D", db, "-o", out}, connArgs(srv)...)...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitForLockWait(t, srv)
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			temps, _ := filepath.Glob(filepath.Join(dir, ".lms-backup-tmp-*"))
			if len(temps) != 1 {
				t.Fatalf("after SIGKILL the folder has temp files %v, want the killed run's one", temps)
			}
			unlock()
			// Outside a locked folder the sweep spares files written in the
			// last 10 s (a live writer's may not be locked yet): age it.
			old := time.Now().Add(-time.Minute)
			os.Chtimes(temps[0], old, old)
			mustRun(t, append([]string{"--quiet", "dump", "-D", db, "-o", out}, connArgs(srv)...)...)
			assertNoTemp(t, dir)
			dumps, _ := filepath.Glob(filepath.Join(dir, "*.sql.zst"))
			if len(dumps) != 1 {
				t.Fatalf("dumps %v, want one", dumps)
			}
		})
	}
}
