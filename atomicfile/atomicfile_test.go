package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCommitAndAbort(t *testing.T) {
	tests := []struct {
		name   string
		commit bool
		want   string // content under the final name afterwards
	}{
		{name: "commit replaces the previous file", commit: true, want: "new"},
		{name: "abort keeps the previous file", commit: false, want: "old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "backup.sql.zst")
			if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := Create(path, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("new")); err != nil {
				t.Fatal(err)
			}
			if tt.commit {
				err = f.Commit()
			} else {
				err = f.Abort()
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Abort(); err != nil {
				t.Fatalf("second Abort: %v", err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("content %q, want %q", got, tt.want)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 {
				t.Errorf("folder has %d entries, want only the final file", len(entries))
			}
			st, _ := os.Stat(path)
			if tt.commit && st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v, want 0600", st.Mode().Perm())
			}
		})
	}
}

func TestCreateInMissingFolder(t *testing.T) {
	_, err := Create(filepath.Join(t.TempDir(), "missing", "x"), 0o600)
	if err == nil {
		t.Fatal("want an error for a missing folder")
	}
}

// TestSweep removes a killed writer's temporary file and nothing else: not
// a live writer's (locked), not a recent one, not another file's.
func TestSweep(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "backup.sql.zst")
	old := time.Now().Add(-time.Hour)
	write := func(name string, mtime time.Time) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mtime, mtime)
	}
	write(TempPrefix+"backup.sql.zst-111", old)        // killed long ago
	write(TempPrefix+"backup.sql.zst-222", time.Now()) // just written: maybe not locked yet
	write(TempPrefix+"other.sql.zst-333", old)         // another output's
	write(TempPrefix+"backup.sql.zst-x-444", old)      // backup.sql.zst-x's
	live, err := Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Abort()
	os.Chtimes(live.TempName(), old, old)

	removed, err := Sweep(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != TempPrefix+"backup.sql.zst-111" {
		t.Errorf("removed %v, want only the killed writer's file", removed)
	}
	for _, keep := range []string{TempPrefix + "backup.sql.zst-222", TempPrefix + "other.sql.zst-333", TempPrefix + "backup.sql.zst-x-444", filepath.Base(live.TempName())} {
		if _, err := os.Stat(filepath.Join(dir, keep)); err != nil {
			t.Errorf("%s was removed", keep)
		}
	}
	if _, err := live.Write([]byte("still writing")); err != nil {
		t.Fatal(err)
	}
	if err := live.Commit(); err != nil {
		t.Fatalf("the live writer could not commit after the sweep: %v", err)
	}
}
