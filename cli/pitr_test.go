package cli

import (
	"strings"
	"testing"
	"time"

	"lms-backup/binlog"
	"lms-backup/dumpfile"
)

// FuzzDescribePlan: names from the database and the folder stay data in
// the line a restore to a moment prints: it is one line whatever they hold.
func FuzzDescribePlan(f *testing.F) {
	f.Add("lms_before", "lms\nDROP", "lms-20261202T023000Z.sql.zst")
	f.Fuzz(func(t *testing.T, target, db, file string) {
		p := &binlog.Plan{Database: db, From: binlog.Position{File: "binlog.000001", Pos: 4},
			Stop: binlog.Position{File: "binlog.000002", Pos: 99}, Transactions: 3, Last: binlog.GTID{Seq: 7}, Next: binlog.GTID{Seq: 8}}
		d := dumpRef{name: file, header: dumpfile.Header{Database: db, Started: time.Unix(1e9, 0)}}
		line := describePlan(target, d, p, time.UTC)
		if strings.ContainsAny(line, "\n\r") {
			t.Fatalf("two lines: %q", line)
		}
	})
}

func TestRestorableRange(t *testing.T) {
	at := time.Date(2026, 12, 2, 2, 30, 0, 0, time.UTC)
	dumps := []dumpRef{{name: "a", header: dumpfile.Header{Started: at, BinlogFile: "binlog.000002"}}}
	af := &archivedFiles{segs: []binlog.Manifest{{File: "binlog.000002", LastTime: at.Add(time.Hour)}}}
	got := restorableRange(dumps, af, time.FixedZone("server", 3*3600))
	if want := "a restore can reach 2026-12-02 05:30:00 +03:00 to 2026-12-02 06:30:00 +03:00"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := restorableRange(nil, af, time.UTC); !strings.Contains(got, "no moment") {
		t.Errorf("without a dump: %q", got)
	}
}
