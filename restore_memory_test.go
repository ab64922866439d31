package main

import (
	"fmt"
	"path/filepath"
	"testing"

	"lms-backup/internal/testdb"
)

// TestRestoreMemoryIsFlat restores fixture dumps at two scales, one 4x the
// other, with two loader connections, in fresh processes: the heap stays
// within the dump's budget (N+1 frame buffers, whatever the data) and does
// not grow with the data (medians of three runs).
func TestRestoreMemoryIsFlat(t *testing.T) {
	srv := testdb.Get(t)
	scales := []int{4, 16}
	live, heap := map[int]int64{}, map[int]int64{}
	for _, scale := range scales {
		src := fixtureDB(t, srv, scale)
		file := filepath.Join(t.TempDir(), fmt.Sprintf("s%d.sql.zst", scale))
		mustRun(t, append([]string{"--quiet", "dump", "-D", src, "-o", file}, connArgs(srv)...)...)
		var heaps, lives []int64
		for i := range 3 {
			dst := srv.CreateDB(t, fmt.Sprintf("memrestore_s%d", scale))
			s := measured(t, append(append([]string{"restore", "--threads", "2", "-D", dst}, connArgs(srv)...), file)...)
			if s.code != 0 {
				t.Fatalf("restore scale %d: exit %d\n%s", scale, s.code, s.stderr)
			}
			if s.PeakHeap <= 0 || s.PeakHeap > dumpHeapBudget {
				t.Errorf("scale %d: peak heap %d bytes, budget %d", scale, s.PeakHeap, dumpHeapBudget)
			}
			if s.PeakRSS <= 0 || s.PeakRSS > dumpRSSBudget {
				t.Errorf("scale %d: peak RSS %d bytes, budget %d", scale, s.PeakRSS, dumpRSSBudget)
			}
			heaps, lives = append(heaps, s.PeakHeap), append(lives, s.PeakLive)
			t.Logf("scale %d run %d: peak heap %.1f MiB, peak live heap %.1f MiB, peak RSS %.1f MiB",
				scale, i, float64(s.PeakHeap)/(1<<20), float64(s.PeakLive)/(1<<20), float64(s.PeakRSS)/(1<<20))
			srv.Exec(t, "", "DROP DATABASE "+ident(dst))
		}
		heap[scale], live[scale] = median(heaps), median(lives)
	}
	checkFlat(t, scales, live, heap)
}
