// Package metrics writes the result of a run in the Prometheus text format
// for node_exporter's textfile collector: a file ending in .prom that the
// collector reads whole, so it is replaced atomically.
//
// Several runs share one file (or one folder) without losing each other's
// series: a run reads the file under an exclusive lock, replaces its own
// series (those with its command and database labels), keeps the others,
// and writes the file anew. A failed run keeps the last success timestamp
// of its series, so an alert on "no success for 26 hours" fires however
// many failures come after a success.
package metrics

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"lms-backup/atomicfile"
)

// Run is the result of one run, for one series.
type Run struct {
	Command  string // "dump", "restore", "verify", "report"
	Database string // may be empty (verify)
	ExitCode int
	Start    time.Time
	End      time.Time
	Bytes    int64  // bytes written (dump, report) or read (restore, verify)
	Rows     int64  // rows dumped, restored or reported
	PeakHeap uint64 // bytes
}

// families are the metrics a run writes, in the order they are written,
// with their help text.
var families = []struct{ name, help string }{
	{"lms_backup_last_success_timestamp_seconds", "Unix time the last successful run of this command on this database ended."},
	{"lms_backup_last_run_timestamp_seconds", "Unix time the last run of this command on this database ended."},
	{"lms_backup_last_exit_code", "Exit code of the last run (0 is success; see lms-backup --help)."},
	{"lms_backup_duration_seconds", "Wall time of the last run."},
	{"lms_backup_bytes", "Bytes the last run wrote (dump, report) or read (restore, verify)."},
	{"lms_backup_rows", "Rows the last run dumped, restored, verified or reported."},
	{"lms_backup_peak_heap_bytes", "Peak Go heap of the last run."},
}

// Write records r in the file at path, or, when path is an existing folder
// (or ends in a slash), in its file lms_backup_<command>_<database>.prom.
// The file is replaced atomically, with mode 0644: node_exporter usually
// runs as another user, and the file holds no secret.
func Write(path string, r Run) error {
	if st, err := os.Stat(path); (err == nil && st.IsDir()) || strings.HasSuffix(path, "/") {
		path = filepath.Join(path, "lms_backup_"+fileSafe(r.Command)+"_"+fileSafe(r.Database)+".prom")
	}
	unlock, err := lock(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("metrics: read %s: %w", path, err)
	}
	series, err := parse(old)
	if err != nil {
		return fmt.Errorf("metrics: %s: %w (remove the file; it is written anew)", path, err)
	}
	labels := `command="` + escape(r.Command) + `",database="` + escape(r.Database) + `"`
	values := map[string]float64{
		"lms_backup_last_run_timestamp_seconds": unix(r.End),
		"lms_backup_last_exit_code":             float64(r.ExitCode),
		"lms_backup_duration_seconds":           r.End.Sub(r.Start).Seconds(),
		"lms_backup_bytes":                      float64(r.Bytes),
		"lms_backup_rows":                       float64(r.Rows),
		"lms_backup_peak_heap_bytes":            float64(r.PeakHeap),
	}
	if r.ExitCode == 0 {
		values["lms_backup_last_success_timestamp_seconds"] = unix(r.End)
	}
	for name, v := range values {
		series[name+"{"+labels+"}"] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	f, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if _, err := f.Write(format(series)); err != nil {
		f.Abort()
		return fmt.Errorf("metrics: write %s: %w", path, err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("metrics: write %s: %w", path, err)
	}
	return nil
}

// parse reads the series of our families from a file this package wrote:
// "name{labels} value" lines by "name{labels}". Comments are skipped;
// other families are dropped.
func parse(text []byte) (map[string]string, error) {
	series := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || !strings.Contains(line[:i], "{") {
			return nil, fmt.Errorf("line %d is not a series this tool writes", n)
		}
		name := line[:strings.IndexByte(line, '{')]
		if slices.IndexFunc(families, func(f struct{ name, help string }) bool { return f.name == name }) >= 0 {
			series[line[:i]] = line[i+1:]
		}
	}
	return series, sc.Err()
}

// format writes the series grouped by family, each family's series sorted.
func format(series map[string]string) []byte {
	var b bytes.Buffer
	for _, f := range families {
		var keys []string
		for k := range series {
			if strings.HasPrefix(k, f.name+"{") {
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 {
			continue
		}
		slices.Sort(keys)
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", f.name, f.help, f.name)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s %s\n", k, series[k])
		}
	}
	return b.Bytes()
}

// escape escapes a label value as the text format wants: \\, \" and \n.
func escape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// fileSafe keeps letters, digits, '-' and '_' of s, so that a database's
// name makes a file name in the folder and nowhere else.
func fileSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

func unix(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// lock takes an exclusive flock on path (created if missing) and returns
// its release.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("metrics: lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("metrics: lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
