package metrics

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func run(cmd, db string, code int, end time.Time) Run {
	return Run{Command: cmd, Database: db, ExitCode: code, Start: end.Add(-90 * time.Second), End: end, Bytes: 1234, Rows: 56, PeakHeap: 7 << 20}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSharedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lms.prom")
	t0 := time.Unix(1_800_000_000, 0)
	for _, r := range []Run{run("dump", "lms", 0, t0), run("report", "lms", 0, t0), run("dump", "other", 0, t0),
		run("dump", "lms", 3, t0.Add(time.Hour))} {
		if err := Write(path, r); err != nil {
			t.Fatal(err)
		}
	}
	text := read(t, path)
	for _, want := range []string{
		// The failure an hour later keeps the success before it.
		`lms_backup_last_success_timestamp_seconds{command="dump",database="lms"} 1800000000` + "\n",
		`lms_backup_last_run_timestamp_seconds{command="dump",database="lms"} 1800003600` + "\n",
		`lms_backup_last_exit_code{command="dump",database="lms"} 3` + "\n",
		`lms_backup_last_exit_code{command="report",database="lms"} 0` + "\n",
		`lms_backup_last_exit_code{command="dump",database="other"} 0` + "\n",
		`lms_backup_duration_seconds{command="dump",database="lms"} 90` + "\n",
		`lms_backup_peak_heap_bytes{command="report",database="lms"} 7340032` + "\n",
		"# TYPE lms_backup_rows gauge\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in\n%s", want, text)
		}
	}
	if n := strings.Count(text, "# TYPE "); n != len(families) {
		t.Errorf("%d families, want %d", n, len(families))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
}

func TestFolderAndLabels(t *testing.T) {
	dir := t.TempDir()
	odd := "a \"b\"\nc\\d/../e"
	if err := Write(dir+"/", run("dump", odd, 0, time.Unix(1_800_000_000, 0))); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.prom"))
	if len(files) != 1 || filepath.Dir(files[0]) != dir {
		t.Fatalf("files %v", files)
	}
	text := read(t, files[0])
	if !strings.Contains(text, `database="a \"b\"\nc\\d/../e"`) {
		t.Errorf("label not escaped:\n%s", text)
	}
	if strings.Count(text, "\n") != 3*len(families) {
		t.Errorf("a label value broke a line:\n%s", text)
	}
}

// TestConcurrentRuns: runs that write one file at once keep every series.
func TestConcurrentRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lms.prom")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := Write(path, run("dump", fmt.Sprintf("db%02d", i), 0, time.Now())); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := strings.Count(read(t, path), "lms_backup_last_exit_code{"); n != 16 {
		t.Errorf("%d series, want 16", n)
	}
}

func TestForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.prom")
	os.WriteFile(path, []byte("garbage\n"), 0o644)
	if err := Write(path, run("dump", "lms", 0, time.Now())); err == nil || !strings.Contains(err.Error(), "remove the file") {
		t.Errorf("err = %v", err)
	}
}
