package e2e

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
		heap[scale], live[scale] = withinBudget(t, "restore", scale, 3, func(i int) memStats {
			dst := srv.CreateDB(t, fmt.Sprintf("memrestore_s%d", scale))
			defer srv.Exec(t, "", "DROP DATABASE "+ident(dst))
			return measured(t, append(append([]string{"restore", "--threads", "2", "-D", dst}, connArgs(srv)...), file)...)
		})
	}
	checkFlat(t, scales, live, heap)
}
