package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"lms-backup/internal/testdb"
)

// TestSwapKilledAtEveryStep SIGKILLs a restore over a production database
// after each step of its atomic swap in turn (the journal written, the
// tables locked, each trigger dropped, each table moved, the unlock, the
// view replaced by a table, each objects frame, the journal marked done),
// as kill -9, an OOM kill or a power loss would. After each kill
// `restore --recover` must say which state it brought the target to, and
// the target must then equal exactly the old database (an untouched twin)
// or exactly the restored one, with no staging database left; the next
// restore then succeeds. The loop ends at the first step the restore runs
// past, so every step is covered.
func TestSwapKilledAtEveryStep(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "swapkill_src")
	srv.Exec(t, src, atomicSource...)
	file := filepath.Join(t.TempDir(), "src.sql.zst")
	mustRun(t, append([]string{"--quiet", "dump", "-D", src, "-o", file}, connArgs(srv)...)...)

	// The restored state: the dump, plus what only the target had.
	want := srv.CreateDB(t, "swapkill_want")
	srv.Exec(t, want, atomicTarget...)
	mustRun(t, append(append([]string{"--quiet", "restore", "--force", "-D", want}, connArgs(srv)...), file)...)

	for step, done := 1, false; !done; step++ {
		// A subtest per step: its databases and connections go with it.
		t.Run("kill after step "+itoa(step), func(t *testing.T) {
			done = killAtStep(t, srv, step, file, want)
		})
		if t.Failed() {
			return
		}
	}
}

// killAtStep runs one restore killed after swap step step and checks the
// recovery; it reports true when the restore ran past every step.
func killAtStep(t *testing.T, srv *testdb.Server, step int, file, want string) bool {
	target, twin := srv.CreateDB(t, "swapkill_target"), srv.CreateDB(t, "swapkill_twin")
	srv.Exec(t, target, atomicTarget...)
	srv.Exec(t, twin, atomicTarget...)
	env := []string{"LMS_BACKUP_TEST_KILL_AT_SWAP_STEP=" + itoa(step)}
	r := run(t, nil, env, append(append([]string{"restore", "--force", "-D", target}, connArgs(srv)...), file)...)
	if r.code == 0 {
		if step < 8 {
			t.Fatalf("the restore ran through at step %d: the hook did not fire\n%s", step, r.stderr)
		}
		compareDatabases(t, srv, want, target)
		assertNoStaging(t, srv)
		t.Logf("killed after each of %d swap steps", step-1)
		return true
	}
	if r.code != 137 && r.code != -1 {
		t.Fatalf("step %d: exit %d, want a SIGKILL\n%s", step, r.code, r.stderr)
	}
	killedAt := r.stderr[max(strings.LastIndex(r.stderr, "step="), 0):]
	rec := mustRun(t, append([]string{"restore", "--recover", "-D", target}, connArgs(srv)...)...)
	switch {
	case strings.Contains(rec.stdout, "rolled back"):
		compareDatabases(t, srv, twin, target)
	case strings.Contains(rec.stdout, "completed"):
		compareDatabases(t, srv, want, target)
	default:
		// Killed before the journal was committed: nothing changed.
		if !strings.Contains(rec.stdout, "no interrupted restore") {
			t.Fatalf("step %d: --recover said %q", step, rec.stdout)
		}
		compareDatabases(t, srv, twin, target)
	}
	if t.Failed() {
		t.Fatalf("after a kill at step %d (%s), --recover said %q", step, strings.TrimSpace(killedAt), rec.stdout)
	}
	t.Logf("%s: %s", strings.TrimSpace(killedAt), strings.TrimSpace(rec.stdout))
	// The next restore sweeps what the killed run left and succeeds.
	mustRun(t, append(append([]string{"--quiet", "restore", "--force", "-D", target}, connArgs(srv)...), file)...)
	compareDatabases(t, srv, want, target)
	assertNoStaging(t, srv)
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }
