package cli

import (
	"fmt"
	"time"

	"lms-backup/metrics"
)

// outcome is what a run did, filled by the command as it goes: the end of
// the run turns it into the summary on a terminal and the --metrics-file
// series.
type outcome struct {
	start    time.Time
	database string
	what     string // "dumped lms to /var/backups/lms.sql.zst"
	bytes    int64  // written (dump, report) or read (restore, verify)
	rows     int64
	peakHeap uint64
}

// finishRun writes the metrics file and, on a terminal, the summary of a
// run that ended with code. A metrics file that cannot be written is a
// warning: the run's own result stands, and the missing series is what a
// monitor notices.
func (e *appEnv) finishRun(code int) {
	if e.command == "" {
		return // --help, --version, a usage error before any command ran
	}
	end := time.Now()
	if e.metricsFile != "" {
		r := metrics.Run{Command: e.command, Database: e.out.database, ExitCode: code, Start: e.out.start, End: end,
			Bytes: e.out.bytes, Rows: e.out.rows, PeakHeap: e.out.peakHeap}
		if err := metrics.Write(e.metricsFile, r); err != nil && e.log != nil {
			e.log.Warn("could not write the metrics file", "err", err)
		}
	}
	if code == ExitOK && e.out.what != "" && !e.quiet && !e.jsonLogs && terminal(e.stderr) {
		fmt.Fprintln(e.stderr, e.summaryLine(end))
	}
}

// summaryLine is the human end of a run: what, where, how big, how long,
// peak memory.
func (e *appEnv) summaryLine(end time.Time) string {
	s := "lms-backup: " + e.out.what
	if e.out.bytes > 0 {
		s += ", " + formatBytes(e.out.bytes)
	}
	if e.out.rows > 0 {
		s += fmt.Sprintf(", %d rows", e.out.rows)
	}
	s += fmt.Sprintf(", in %s", end.Sub(e.out.start).Round(100*time.Millisecond))
	if e.out.peakHeap > 0 {
		s += ", peak heap " + formatBytes(int64(e.out.peakHeap))
	}
	return s
}
