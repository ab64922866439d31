package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"lms-backup/cli"
	"lms-backup/internal/testdb"
)

// Memory budgets the CI holds the commands to (see README, "Memory").
const (
	dumpHeapBudget  = 32 << 20 // peak heap of dump, any database size
	dumpRSSBudget   = 64 << 20 // peak RSS of dump
	flatnessPercent = 15       // a 4x larger database may raise peak heap by this much at most
)

// fixtureDB creates the sample loan database at scale with the binary.
func fixtureDB(t *testing.T, srv *testdb.Server, scale int) string {
	t.Helper()
	db := fmt.Sprintf("loans_s%d_%d", scale, os.Getpid())
	t.Cleanup(func() { srv.Exec(t, "", "DROP DATABASE IF EXISTS "+ident(db)) })
	mustRun(t, append([]string{"--quiet", "fixture", "--force", "-D", db, "--scale", fmt.Sprint(scale)}, connArgs(srv)...)...)
	return db
}

type memStats struct {
	PeakHeap       int64    `json:"peak_heap_bytes"`
	PeakLive       int64    `json:"peak_live_heap_bytes"`
	PeakRSS        int64    `json:"peak_rss_bytes"`
	ThrottleEvents int      `json:"throttle_events"`
	Profiles       []string `json:"heap_profiles"`
	code           int
	stderr         string
}

// measured runs the binary in a fresh process with the Go runtime's memory
// settings pinned, and returns its --stats-json. RSS is the child's own
// VmHWM: the kernel's ru_maxrss for a child of os/exec also counts the
// parent's memory (the child starts as a vfork sharing the parent's pages),
// which here read 238 MiB for a 40 MiB dump.
func measured(t *testing.T, args ...string) memStats {
	t.Helper()
	return measuredEnv(t, nil, args...)
}

// measuredEnv is measured with extra environment variables.
func measuredEnv(t *testing.T, extra []string, args ...string) memStats {
	t.Helper()
	statsFile := filepath.Join(t.TempDir(), "stats.json")
	cmd := exec.Command(bin, append([]string{"--quiet", args[0], "--stats-json", statsFile}, args[1:]...)...)
	env := []string{"GOGC=100", "GOMAXPROCS=2"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") && !strings.HasPrefix(kv, "GOMAXPROCS=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, extra...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var s memStats
	if ee, ok := err.(*exec.ExitError); ok {
		s.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	s.stderr = stderr.String()
	data, err := os.ReadFile(statsFile)
	if err != nil {
		t.Fatalf("no --stats-json written (exit %d): %v\n%s", s.code, err, s.stderr)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func median(xs []int64) int64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestDumpMemoryIsFlat dumps fixture databases at two scales, one 4x the
// other, in fresh processes: the peak heap stays under the budget and the
// larger database raises it by no more than flatnessPercent (medians of five
// runs: where a GC cycle falls moves a single peak by a few MiB).
func TestDumpMemoryIsFlat(t *testing.T) {
	srv := testdb.Get(t)
	scales := []int{4, 16}
	live, heap := map[int]int64{}, map[int]int64{}
	for _, scale := range scales {
		db := fixtureDB(t, srv, scale)
		heap[scale], live[scale] = withinBudget(t, "dump", scale, 5, func(i int) memStats {
			out := filepath.Join(t.TempDir(), fmt.Sprintf("s%d-%d.sql.zst", scale, i))
			return measured(t, append([]string{"dump", "-D", db, "-o", out}, connArgs(srv)...)...)
		})
	}
	checkFlat(t, scales, live, heap)
}

// withinBudget runs one command runs times in fresh processes (run does
// one), checks that each succeeds within the dump's heap and RSS budgets,
// and returns the medians of its peak heap and peak live heap.
func withinBudget(t *testing.T, what string, scale, runs int, run func(i int) memStats) (heap, live int64) {
	t.Helper()
	var heaps, lives []int64
	for i := range runs {
		s := run(i)
		if s.code != 0 {
			t.Fatalf("%s scale %d: exit %d\n%s", what, scale, s.code, s.stderr)
		}
		if s.PeakHeap <= 0 || s.PeakHeap > dumpHeapBudget {
			t.Errorf("%s scale %d: peak heap %d bytes, budget %d", what, scale, s.PeakHeap, dumpHeapBudget)
		}
		if s.PeakRSS <= 0 || s.PeakRSS > dumpRSSBudget {
			t.Errorf("%s scale %d: peak RSS %d bytes, budget %d", what, scale, s.PeakRSS, dumpRSSBudget)
		}
		heaps, lives = append(heaps, s.PeakHeap), append(lives, s.PeakLive)
		t.Logf("%s scale %d run %d: peak heap %.1f MiB, peak live heap %.1f MiB, peak RSS %.1f MiB",
			what, scale, i, float64(s.PeakHeap)/(1<<20), float64(s.PeakLive)/(1<<20), float64(s.PeakRSS)/(1<<20))
	}
	return median(heaps), median(lives)
}

// checkFlat compares the medians at two scales. The retained heap (the
// peak of the live heap after each GC) may grow by flatnessPercent at
// most; the peak of the heap including garbage not yet collected is
// allowed twice that, because it also depends on where the GC cycles fall:
// a longer run samples more cycles and so a higher saw-tooth tooth
// (measured: the same run at one scale varies by about 10%).
func checkFlat(t *testing.T, scales []int, live, heap map[int]int64) {
	t.Helper()
	a, b := scales[0], scales[1]
	if live[b]*100 > live[a]*(100+flatnessPercent) {
		t.Errorf("retained heap grows with the data: median peak live heap %d bytes at scale %d, %d at scale %d (more than %d%%)",
			live[a], a, live[b], b, flatnessPercent)
	}
	if heap[b]*100 > heap[a]*(100+2*flatnessPercent) {
		t.Errorf("peak heap grows with the data: median %d bytes at scale %d, %d at scale %d (more than %d%%)",
			heap[a], a, heap[b], b, 2*flatnessPercent)
	}
}

// TestTightMemLimit dumps with a budget far below what the dump would
// like: it completes, throttles, writes a heap profile that pprof reads,
// and the dump still restores to identical tables. --max-heap turns a
// regression into exit 7 without losing the work.
func TestTightMemLimit(t *testing.T) {
	srv := testdb.Get(t)
	src := fixtureDB(t, srv, 4)
	dir := t.TempDir()
	out := filepath.Join(dir, "tight.sql.zst")
	s := measured(t, append([]string{"dump", "-D", src, "-o", out, "--mem-limit", "16MiB", "--heap-profile-dir", dir}, connArgs(srv)...)...)
	if s.code != 0 {
		t.Fatalf("dump under 16MiB: exit %d\n%s", s.code, s.stderr)
	}
	if s.ThrottleEvents == 0 {
		t.Error("no throttle events under a 16MiB budget")
	}
	if len(s.Profiles) == 0 {
		t.Fatal("no heap profile written near the budget")
	}
	for _, p := range s.Profiles {
		if filepath.Dir(p) != dir {
			t.Errorf("profile %s not in --heap-profile-dir", p)
		}
		top, err := exec.Command("go", "tool", "pprof", "-top", "-sample_index=inuse_space", bin, p).CombinedOutput()
		if err != nil || !bytes.Contains(top, []byte("flat%")) {
			t.Errorf("pprof cannot read %s: %v\n%s", p, err, top)
		}
	}
	dst := srv.CreateDB(t, "tight")
	mustRun(t, append(append([]string{"--quiet", "restore", "-D", dst}, connArgs(srv)...), out)...)
	compareDatabases(t, srv, src, dst)

	t.Run("max-heap", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "over.sql.zst")
		s := measured(t, append([]string{"dump", "-D", src, "-o", out, "--max-heap", "1MiB"}, connArgs(srv)...)...)
		if s.code != cli.ExitMemory || !strings.Contains(s.stderr, "--max-heap") {
			t.Fatalf("exit %d, want %d\n%s", s.code, cli.ExitMemory, s.stderr)
		}
		mustRun(t, "verify", out) // the work itself completed
	})
}

// TestDebugAddrAndSIGUSR2 holds a dump on a table lock and inspects it
// while it runs: /debug/memstatus answers with the summary so far, pprof
// serves a heap profile, SIGUSR2 writes one into --heap-profile-dir, and
// the password inside --dsn is served nowhere.
func TestDebugAddrAndSIGUSR2(t *testing.T) {
	srv := testdb.Get(t)
	db, _ := smallDump(t, srv)
	const secret = "dbg-S3cret-pw"
	srv.Exec(t, "", "CREATE USER IF NOT EXISTS 'lms_dbg'@'localhost' IDENTIFIED BY '"+secret+"'",
		"CREATE USER IF NOT EXISTS 'lms_dbg'@'127.0.0.1' IDENTIFIED BY '"+secret+"'",
		"GRANT ALL ON *.* TO 'lms_dbg'@'localhost'", "GRANT ALL ON *.* TO 'lms_dbg'@'127.0.0.1'")
	withPw := srv.Config.Clone()
	withPw.User, withPw.Passwd = "lms_dbg", secret
	dir := t.TempDir()
	locker := srv.Open(t, db)
	locker.SetMaxOpenConns(1)
	if _, err := locker.Exec("LOCK TABLES t WRITE"); err != nil {
		t.Fatal(err)
	}
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			locker.Exec("UNLOCK TABLES")
		}
	}
	defer unlock()

	out := filepath.Join(dir, "held.sql.zst")
	cmd := exec.Command(bin, "--log-format", "json", "dump", "-D", db, "-o", out,
		"--debug-addr", "127.0.0.1:0", "--heap-profile-dir", dir, "--dsn", withPw.FormatDSN())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr := make(chan string, 1)
	go func() {
		dec := json.NewDecoder(stderr)
		for {
			var line map[string]any
			if dec.Decode(&line) != nil {
				return
			}
			if line["msg"] == "debug server listening" {
				addr <- fmt.Sprint(line["addr"])
			}
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("the debug server never said where it listens")
	}
	status := httpGet(t, base+"/debug/memstatus")
	var st map[string]any
	if err := json.Unmarshal(status, &st); err != nil || st["peak_heap_bytes"] == nil {
		t.Fatalf("/debug/memstatus: %v: %s", err, status)
	}
	if heap := httpGet(t, base+"/debug/pprof/heap"); len(heap) < 2 || heap[0] != 0x1f || heap[1] != 0x8b {
		t.Fatal("/debug/pprof/heap is not a gzipped profile")
	}
	for _, page := range []string{"/debug/pprof/cmdline", "/debug/pprof/", "/debug/memstatus"} {
		resp, err := http.Get(base + page)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(body, []byte(secret)) {
			t.Errorf("%s shows the password inside --dsn: %s", page, body)
		}
	}
	cmd.Process.Signal(syscall.SIGUSR2)
	deadline := time.Now().Add(20 * time.Second)
	for {
		matches, _ := filepath.Glob(filepath.Join(dir, "lms-backup-dump-heap-*.pprof"))
		if len(matches) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("SIGUSR2 wrote no heap profile")
		}
		time.Sleep(50 * time.Millisecond)
	}
	unlock()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the dump failed after SIGUSR2: %v", err)
	}
	mustRun(t, "verify", out)
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return body
}

// Budgets of the whole report (workbook and PDF), the same at every scale
// (issue 16).
const (
	reportHeapBudget = 64 << 20
	reportRSSBudget  = 96 << 20
)

// TestReportMemory runs the report in fresh processes at fixture scales 25
// and 100, with the report's own GC setting (GOGC unset). Every run stays
// under the heap and RSS budgets; with the PDF cap below every part's row
// count at both scales (so the PDF, which holds its pages until the end by
// design, has the same size) the peak heap of the 4x larger database is at
// most flatnessPercent above the smaller's.
func TestReportMemory(t *testing.T) {
	srv := testdb.Get(t)
	scales := []int{25, 100}
	live, heap := map[int]int64{}, map[int]int64{}
	for _, scale := range scales {
		db := fixtureDB(t, srv, scale)
		var heaps, lives []int64
		for i := range 3 {
			out := t.TempDir()
			args := []string{"report", "-D", db, "--month", "2024-03", "--out", out}
			if i > 0 {
				args = append(args, "--pdf-max-rows", "200")
			}
			s := measuredEnv(t, []string{"GOGC="}, append(args, connArgs(srv)...)...)
			if s.code != 0 {
				t.Fatalf("report scale %d: exit %d\n%s", scale, s.code, s.stderr)
			}
			if s.PeakHeap <= 0 || s.PeakHeap > reportHeapBudget {
				t.Errorf("scale %d run %d: peak heap %d bytes, budget %d", scale, i, s.PeakHeap, reportHeapBudget)
			}
			if s.PeakRSS <= 0 || s.PeakRSS > reportRSSBudget {
				t.Errorf("scale %d run %d: peak RSS %d bytes, budget %d", scale, i, s.PeakRSS, reportRSSBudget)
			}
			t.Logf("scale %d run %d (pdf cap %s): peak heap %.1f MiB, peak live heap %.1f MiB, peak RSS %.1f MiB", scale, i,
				map[bool]string{true: "2000", false: "200"}[i == 0], float64(s.PeakHeap)/(1<<20), float64(s.PeakLive)/(1<<20), float64(s.PeakRSS)/(1<<20))
			if i > 0 {
				heaps, lives = append(heaps, s.PeakHeap), append(lives, s.PeakLive)
			}
		}
		heap[scale], live[scale] = median(heaps), median(lives)
	}
	checkFlat(t, scales, live, heap)
}
