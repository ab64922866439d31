package memcap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// keepLimit restores the process's memory limit after the test, whatever
// the test did to it.
func keepLimit(t *testing.T) int64 {
	t.Helper()
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	return old
}

// checkProfile asserts path is a non-empty gzipped heap profile, mode 0600.
func checkProfile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		t.Errorf("%s: %d bytes, not gzip (want 1f 8b first)", path, len(data))
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", path, st.Mode().Perm())
	}
}

func listProfiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.pprof"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var sink []byte

// TestCriticalUnderRealHeap retains 12 MiB under a 16 MiB budget and keeps
// allocating garbage: the guard must reach critical, write exactly one
// profile (the cooldown holds back a second) and report peaks above what
// was retained.
func TestCriticalUnderRealHeap(t *testing.T) {
	keepLimit(t)
	dir := t.TempDir()
	var logs bytes.Buffer
	g, err := Start(context.Background(), Options{
		Limit:         16 << 20,
		ProfileDir:    dir,
		ProfilePrefix: "lms-backup-test",
		Interval:      2 * time.Millisecond,
		Cooldown:      time.Hour,
		Log:           slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	const retained = 12 << 20
	keep := make([]byte, retained)
	for i := range keep {
		keep[i] = byte(i)
	}
	b := g.Batch("rows", 1000, 10)
	sawMin := false
	deadline := time.Now().Add(10 * time.Second)
	for len(listProfiles(t, dir)) == 0 {
		if time.Now().After(deadline) {
			s := g.Stop()
			t.Fatalf("no profile within 10s; summary %+v", s)
		}
		sink = make([]byte, 64<<10) // garbage, pushes usage up to the limit
		if b.Size() == 10 {
			sawMin = true
		}
	}
	// Keep the pressure on for many more ticks: the cooldown must hold.
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
		sink = make([]byte, 64<<10)
		if b.Size() == 10 {
			sawMin = true
		}
	}
	g.Sample()
	runtime.KeepAlive(keep)
	s := g.Stop()
	sink = nil

	profiles := listProfiles(t, dir)
	if len(profiles) != 1 || len(s.Profiles) != 1 || s.Profiles[0] != profiles[0] {
		t.Fatalf("profiles on disk %v, in summary %v: want exactly one", profiles, s.Profiles)
	}
	checkProfile(t, profiles[0])
	if base := filepath.Base(profiles[0]); !strings.HasPrefix(base, "lms-backup-test-heap-") || !strings.HasSuffix(base, "-critical.pprof") {
		t.Errorf("profile name %s, want lms-backup-test-heap-<time>-critical.pprof", base)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), profiles[0]) {
		t.Errorf("no warning naming the profile in the log:\n%s", logs.String())
	}
	if !sawMin {
		t.Error("Batch.Size never returned min at critical")
	}
	if s.ThrottleEvents == 0 {
		t.Error("no throttle events")
	}
	for name, v := range map[string]uint64{
		"peak heap": s.PeakHeapBytes, "peak live heap": s.PeakLiveHeapBytes,
		"peak total": s.PeakTotalBytes, "peak RSS": s.PeakRSSBytes,
	} {
		if v < retained {
			t.Errorf("%s = %d, below the %d retained", name, v, retained)
		}
	}
	if s.LimitBytes != 16<<20 || s.Samples < 10 || s.GCCycles == 0 || s.DurationSeconds <= 0 {
		t.Errorf("summary %+v: want limit 16MiB, samples, GC cycles and a duration", s)
	}
	if st := s.Batches["rows"]; st.Initial != 1000 || st.MinUsed != 10 || st.MaxUsed != 1000 {
		t.Errorf("batch stats %+v, want initial 1000, min_used 10, max_used 1000", st)
	}
	t.Logf("summary: %+v", s)

	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := json.Unmarshal(data, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{
		"limit_bytes", "peak_heap_bytes", "peak_live_heap_bytes", "peak_total_bytes", "peak_rss_bytes",
		"gc_cycles", "samples", "throttle_events", "forced_gcs", "heap_profiles", "batches",
		"heap_slope_mib_per_min", "heap_slope_r2", "suspected_leak", "duration_seconds",
	} {
		if _, ok := keys[k]; !ok {
			t.Errorf("summary JSON lacks %q: %s", k, data)
		}
	}
	if len(keys) != 15 {
		t.Errorf("summary JSON has %d keys, want 15: %s", len(keys), data)
	}
	rows := keys["batches"].(map[string]any)["rows"].(map[string]any)
	for _, k := range []string{"initial", "min_used", "max_used", "final"} {
		if _, ok := rows[k]; !ok {
			t.Errorf("batch JSON lacks %q: %v", k, rows)
		}
	}
}

func TestStopRestoresLimitAndIsIdempotent(t *testing.T) {
	keepLimit(t)
	const before = 3 << 30
	debug.SetMemoryLimit(before)
	g, err := Start(context.Background(), Options{Limit: 64 << 20, ProfileDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 64<<20 || g.Limit() != 64<<20 {
		t.Fatalf("limit while running = %d (Limit() %d), want 64MiB", got, g.Limit())
	}
	if _, err := Start(context.Background(), Options{}); !errors.Is(err, ErrRunning) {
		t.Errorf("second Start: err = %v, want ErrRunning", err)
	}
	g.Batch("rows", 100, 1).Size()
	first := g.Stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("limit after Stop = %d, want the previous %d", got, before)
	}
	debug.SetMemoryLimit(5 << 30) // a later change Stop must not undo
	second := g.Stop()
	if got := debug.SetMemoryLimit(-1); got != 5<<30 {
		t.Errorf("second Stop changed the limit to %d", got)
	}
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(second)
	if !bytes.Equal(a, b) {
		t.Errorf("second Stop returned another summary:\n%s\n%s", a, b)
	}
	// A new Guard may start once the first is stopped.
	g2, err := Start(context.Background(), Options{Limit: 64 << 20, ProfileDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	g2.Stop()
}

func TestContextEndsSampler(t *testing.T) {
	keepLimit(t)
	ctx, cancel := context.WithCancel(context.Background())
	g, err := Start(ctx, Options{Limit: 64 << 20, Interval: time.Millisecond, ProfileDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	b := g.Batch("rows", 100, 1)
	cancel()
	select {
	case <-g.done:
	case <-time.After(5 * time.Second):
		t.Fatal("sampler still running 5s after the context ended")
	}
	if _, lvl := unpackState(g.state.Load()); lvl != levelHold {
		t.Errorf("level after ctx done = %v, want hold (frozen)", lvl)
	}
	if got := b.Size(); got != 100 {
		t.Errorf("Size after ctx done = %d, want 100", got)
	}
}

func TestWriteProfileNames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "made-by-memcap")
	g, err := newGuard(Options{Limit: 64 << 20, ProfileDir: dir, ProfilePrefix: "lms-backup-dump"}, func(string) string { return "" }, "/")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		reason string
		suffix string
	}{
		{name: "plain reason", reason: "after-table", suffix: "-after-table.pprof"},
		{name: "unsafe characters", reason: "../etc/passwd x", suffix: "-___etc_passwd_x.pprof"},
		{name: "empty", reason: "", suffix: "-manual.pprof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, err := g.WriteProfile(tt.reason)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Dir(path) != dir || !strings.HasPrefix(filepath.Base(path), "lms-backup-dump-heap-") || !strings.HasSuffix(path, tt.suffix) {
				t.Errorf("path %s, want %s/lms-backup-dump-heap-<time>%s", path, dir, tt.suffix)
			}
			checkProfile(t, path)
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
	if s := g.Stop(); len(s.Profiles) != len(tests) {
		t.Errorf("summary lists %d profiles, want %d", len(s.Profiles), len(tests))
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		ok   bool
	}{
		{name: "zero is valid", o: Options{}, ok: true},
		{name: "all set", o: Options{Limit: 64 << 20, ProfileDir: "/tmp", ProfilePrefix: "lms-backup-dump", Interval: time.Second, Cooldown: time.Minute}, ok: true},
		{name: "negative limit", o: Options{Limit: -1}},
		{name: "tiny limit", o: Options{Limit: 1 << 20}},
		{name: "negative interval", o: Options{Interval: -time.Second}},
		{name: "negative cooldown", o: Options{Cooldown: -time.Second}},
		{name: "prefix with a slash", o: Options{ProfilePrefix: "../x"}},
		{name: "hidden prefix", o: Options{ProfilePrefix: ".x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if tt.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrOptions) {
				t.Errorf("%v does not wrap ErrOptions", err)
			}
		})
	}
}

func TestSummaryLogAttrs(t *testing.T) {
	s := Summary{
		LimitBytes: 1 << 20, HeapSlopeMiBPerMin: 1.23456, Profiles: []string{"/tmp/p.pprof"},
		Batches:         map[string]BatchStats{"rows": {Initial: 8, MinUsed: 1, MaxUsed: 8, Final: 4}},
		DurationSeconds: MinSlopeSeconds,
	}
	// A short run's line has no slope: it would be the start-up's.
	short := s
	short.DurationSeconds = 1
	var sb bytes.Buffer
	slog.New(slog.NewJSONHandler(&sb, nil)).Info("memory", short.LogAttrs()...)
	if bytes.Contains(sb.Bytes(), []byte("slope")) || bytes.Contains(sb.Bytes(), []byte("suspected_leak")) {
		t.Errorf("a 1 s run's line has a slope: %s", sb.Bytes())
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("memory", s.LogAttrs()...)
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if got["limit_bytes"] != float64(1<<20) || got["heap_slope_mib_per_min"] != 1.235 {
		t.Errorf("log line %s", buf.Bytes())
	}
	rows, _ := got["batches"].(map[string]any)["rows"].(map[string]any)
	if rows["final"] != float64(4) {
		t.Errorf("batches group %v", got["batches"])
	}
	if p, _ := got["heap_profiles"].([]any); len(p) != 1 {
		t.Errorf("heap_profiles %v", got["heap_profiles"])
	}
	if math.IsNaN(got["duration_seconds"].(float64)) {
		t.Error("NaN duration")
	}
}
