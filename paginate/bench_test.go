package paginate

import (
	"fmt"
	"testing"
)

// BenchmarkPageSize reads 100,000 rows of a five-column table on one
// connection with page sizes 1000 and 10000, and as one streamed query (no
// key) for reference. Run with: go test ./paginate -run XXX -bench PageSize
func BenchmarkPageSize(b *testing.B) {
	const rows = 100_000
	db, _ := setup(b,
		"CREATE TABLE t (id INT NOT NULL PRIMARY KEY, name VARCHAR(40) NOT NULL, amount DECIMAL(12,2) NOT NULL, "+
			"created DATETIME NOT NULL, note VARCHAR(100) NULL)",
		fmt.Sprintf("INSERT INTO t SELECT seq, CONCAT('borrower ', seq), seq * 1.25, '2024-01-01' + INTERVAL seq MINUTE, "+
			"IF(seq %% 3 = 0, NULL, REPEAT('n', seq %% 100)) FROM seq_1_to_%d", rows),
		"ANALYZE TABLE t")
	ctx := testContext(b)
	conn := getConn(b, ctx, db)
	cols := []string{"`id`", "`name`", "`amount`", "`created`", "`note`"}
	for _, bc := range []struct {
		name string
		key  []KeyColumn
		size int
	}{
		{"page=1000", []KeyColumn{{Name: "id", Index: 0}}, 1000},
		{"page=10000", []KeyColumn{{Name: "id", Index: 0}}, 10000},
		{"one-query", nil, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			total := 0
			for b.Loop() {
				c, err := New(Query{Table: "t", Columns: cols, Key: bc.key}, Options{PageSize: fixed(bc.size)})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for c.Next(ctx, conn) {
					n++
				}
				if err := c.Err(); err != nil {
					b.Fatal(err)
				}
				if n != rows {
					b.Fatalf("read %d rows, want %d", n, rows)
				}
				total += n
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
