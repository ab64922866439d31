package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"lms-backup/atomicfile"
	"lms-backup/memcap"
)

const memCategory = "Memory"

// errHeapExceeded means the work finished but the peak heap went over
// --max-heap.
var errHeapExceeded = errors.New("peak heap exceeded --max-heap")

// memFlags are the memory guard's flags, shared by every command that
// moves data.
func memFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "mem-limit", Category: memCategory, EnvVars: []string{"LMS_MEM_LIMIT"},
			Usage: "memory budget, 4MiB or more, e.g. 64MiB: sets the Go memory limit; batches shrink above 70% of it (default: GOMEMLIMIT, else 256MiB; never above 80% of the machine's or cgroup's memory)"},
		&cli.StringFlag{Name: "max-heap", Category: memCategory,
			Usage: "finish the work, but exit 7 if the peak heap went above SIZE (1MiB or more) (for CI memory-regression checks)"},
		&cli.StringFlag{Name: "stats-json", Category: memCategory, Usage: "write the run's memory summary as JSON to `FILE` (peak_heap_bytes, peak_rss_bytes, throttle_events, ...)"},
		&cli.StringFlag{Name: "heap-profile-dir", Category: memCategory,
			Usage: "where heap profiles go when the heap nears the budget or on SIGUSR2 (default: the output folder for dump and report, else the temp folder)"},
		&cli.StringFlag{Name: "debug-addr", Category: memCategory,
			Usage: "serve net/http/pprof and /debug/memstatus on `ADDR` (e.g. 127.0.0.1:6060) during the run"},
	}
}

// memRun is the memory guard of one command run.
type memRun struct {
	guard   *memcap.Guard
	command string
	maxHeap int64
	stats   string
	srv     *http.Server
	log     *slog.Logger
	env     *appEnv // gets the peak heap for the run's summary and metrics
}

// startMem parses the memory flags and starts the guard. profileDir is the
// default folder for heap profiles.
func (e *appEnv) startMem(c *cli.Context, command, profileDir string) (*memRun, error) {
	m := &memRun{command: command, stats: c.String("stats-json"), log: e.log, env: e}
	var limit int64
	var err error
	if s := c.String("mem-limit"); s != "" {
		if limit, err = memcap.ParseSize(s); err != nil {
			return nil, usagef("--mem-limit: %v", err)
		}
	}
	if s := c.String("max-heap"); s != "" {
		if m.maxHeap, err = memcap.ParseSize(s); err != nil {
			return nil, usagef("--max-heap: %v", err)
		}
	}
	if d := c.String("heap-profile-dir"); d != "" {
		profileDir = d
	}
	if st, err := os.Stat(profileDir); err != nil || !st.IsDir() {
		return nil, usagef("--heap-profile-dir %s is not a folder", profileDir)
	}
	m.guard, err = memcap.Start(c.Context, memcap.Options{Limit: limit, ProfileDir: profileDir,
		ProfilePrefix: "lms-backup-" + command, Log: m.log})
	if err != nil {
		return nil, err
	}
	if addr := c.String("debug-addr"); addr != "" {
		if err := m.serveDebug(addr); err != nil {
			m.guard.Stop()
			return nil, err
		}
	}
	return m, nil
}

// serveDebug serves pprof and a JSON memory status on addr.
func (m *memRun) serveDebug(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--debug-addr %q: use HOST:PORT, e.g. 127.0.0.1:6060", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		m.log.Warn("--debug-addr is not a loopback address: anyone who can reach it can read heap profiles", "addr", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usagef("--debug-addr: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	// The command line may hold a --password or a password inside --dsn.
	mux.HandleFunc("/debug/pprof/cmdline", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not served: the command line may hold a password", http.StatusNotFound)
	})
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/memstatus", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(m.guard.Status())
	})
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go m.srv.Serve(ln)
	m.log.Info("debug server listening", "addr", ln.Addr().String())
	return nil
}

// statsDoc is the --stats-json document.
type statsDoc struct {
	Command string `json:"command"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
	memcap.Summary
}

// finish stops the guard, logs the summary, writes --stats-json and checks
// --max-heap. runErr is the command's own result, which wins over a memory
// verdict.
func (m *memRun) finish(runErr error) error {
	if m.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		m.srv.Shutdown(ctx)
		cancel()
	}
	sum := m.guard.Stop()
	if m.env != nil {
		m.env.out.peakHeap = sum.PeakHeapBytes
	}
	level := slog.LevelInfo
	if runErr != nil {
		level = slog.LevelDebug // the error line is what matters then
	}
	m.log.Log(context.Background(), level, "memory summary", sum.LogAttrs()...)
	if m.stats != "" {
		doc := statsDoc{Command: m.command, OK: runErr == nil, Summary: sum}
		if runErr != nil {
			doc.Error = runErr.Error()
		}
		if err := writeJSON(m.stats, doc); err != nil && runErr == nil {
			return outputError{fmt.Errorf("--stats-json: %w", err)}
		}
	}
	if runErr != nil {
		return runErr
	}
	if m.maxHeap > 0 && int64(sum.PeakHeapBytes) > m.maxHeap {
		return fmt.Errorf("%w: peak heap %s, --max-heap %s (the work itself completed)", errHeapExceeded,
			formatBytes(int64(sum.PeakHeapBytes)), formatBytes(m.maxHeap))
	}
	return nil
}

// writeJSON writes v to path atomically with mode 0600.
func writeJSON(path string, v any) error {
	f, err := atomicfile.Create(path, 0o600)
	if err != nil {
		return err
	}
	defer f.Abort()
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	return f.Commit()
}

// outputDir is the folder of an output path, for default heap profiles.
func outputDir(out string) string {
	if out == "" || out == "-" {
		return os.TempDir()
	}
	return filepath.Dir(out)
}
