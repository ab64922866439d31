package rotate

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestPrune(t *testing.T) {
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	names := []string{
		Name("lms", now, ".sql.zst"),
		Name("lms", now.Add(-1*day), ".sql.gz"),
		Name("lms", now.Add(-2*day), ".sql.zst"),
		Name("lms", now.Add(-10*day), ".sql"),
		Name("lms_copy", now.Add(-40*day), ".sql.zst"), // another database
		"lms-notadate.sql.zst",
		"lms-20200101T000000Z.sql.bak", // not our extension
		"readme.txt",
	}
	tests := []struct {
		name   string
		policy Policy
		gone   []int // indexes into names
	}{
		{"nothing set keeps all", Policy{Now: now}, nil},
		{"keep 2", Policy{Keep: 2, Now: now}, []int{2, 3}},
		{"keep 1", Policy{Keep: 1, Now: now}, []int{1, 2, 3}},
		{"keep-days 5", Policy{KeepDays: 5, Now: now}, []int{3}},
		{"either limit keeps", Policy{Keep: 1, KeepDays: 3, Now: now}, []int{3}},
		{"the newest stays even when old", Policy{KeepDays: 1, Now: now.Add(100 * day)}, []int{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, n := range names {
				os.WriteFile(filepath.Join(dir, n), nil, 0o600)
			}
			removed, err := Prune(dir, "lms", tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, i := range tt.gone {
				want = append(want, names[i])
			}
			slices.Sort(removed)
			slices.Sort(want)
			if !slices.Equal(removed, want) {
				t.Errorf("removed %v, want %v", removed, want)
			}
			for i, n := range names {
				_, err := os.Stat(filepath.Join(dir, n))
				if gone := slices.Contains(tt.gone, i); gone == (err == nil) {
					t.Errorf("%s: exists=%v, want %v", n, err == nil, !gone)
				}
			}
		})
	}
}

func TestSweepOnlyOurTempFiles(t *testing.T) {
	dir := t.TempDir()
	ours := ".lms-backup-tmp-" + Name("lms", time.Now(), ".sql.zst") + "-123"
	for _, n := range []string{ours, ".lms-backup-tmp-" + Name("other", time.Now(), ".sql.zst") + "-9", ".lms-backup-tmp-report.xlsx-1", "keep.sql"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o600)
	}
	removed, err := Sweep(dir, "lms")
	if err != nil || !slices.Equal(removed, []string{ours}) {
		t.Fatalf("removed %v (%v), want only %s", removed, err, ours)
	}
}

func TestLockIsExclusive(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, "lms")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(dir, "lms"); err == nil {
		t.Fatal("a second lock on the same database succeeded")
	}
	other, err := Acquire(dir, "lms_copy")
	if err != nil {
		t.Fatalf("another database's lock: %v", err)
	}
	other.Close()
	l.Close()
	l2, err := Acquire(dir, "lms")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Close()
}
