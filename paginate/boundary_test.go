package paginate

import (
	"slices"
	"strings"
	"testing"
)

// TestChunksCoverEveryRowOnce cuts tables into chunks with Boundary and
// reads each chunk with a bounded cursor: every row comes back exactly
// once, in key order, in the expected number of chunks, whatever the key.
func TestChunksCoverEveryRowOnce(t *testing.T) {
	tests := []struct {
		name   string
		stmts  []string
		key    []KeyColumn
		order  string // the server's key order, one string per row
		chunk  int
		chunks int
	}{
		{name: "dense integer",
			stmts: []string{"CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t SELECT seq, seq FROM seq_1_to_1000"},
			key:   []KeyColumn{{Name: "id", Index: -1}}, order: "SELECT id FROM t ORDER BY id", chunk: 300, chunks: 4},
		{name: "sparse skewed bigint",
			stmts: []string{"CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY, v INT)",
				"INSERT INTO t SELECT seq, seq FROM seq_1_to_1000", "INSERT INTO t SELECT 1000000000000 + seq, seq FROM seq_0_to_1000",
				"INSERT INTO t VALUES (18446744073709551615, 0)"},
			key: []KeyColumn{{Name: "id", Index: -1}}, order: "SELECT id FROM t ORDER BY id", chunk: 500, chunks: 5},
		{name: "composite",
			stmts: []string{"CREATE TABLE t (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (a, b))",
				"INSERT INTO t SELECT seq DIV 7, CONCAT('k', seq % 7), seq FROM seq_1_to_1000"},
			key:   []KeyColumn{{Name: "a", Index: -1}, {Name: "b", Index: -1, Type: KeyText}},
			order: "SELECT CONCAT(a, '/', b) FROM t ORDER BY a, b", chunk: 99, chunks: 11},
		{name: "case-insensitive text",
			stmts: []string{"CREATE TABLE t (k VARCHAR(20) COLLATE utf8mb4_general_ci PRIMARY KEY, v INT)",
				"INSERT INTO t SELECT CONCAT(IF(seq % 2, 'a', 'B'), seq), seq FROM seq_1_to_700", "INSERT INTO t VALUES ('ä', 1), ('Z', 2), ('', 3)"},
			key: []KeyColumn{{Name: "k", Index: -1, Type: KeyText}}, order: "SELECT k FROM t ORDER BY k", chunk: 100, chunks: 8},
		{name: "enum and int",
			stmts: []string{"CREATE TABLE t (e ENUM('z', 'a', 'm') NOT NULL, id INT NOT NULL, PRIMARY KEY (e, id))",
				"INSERT INTO t SELECT ELT(1 + seq % 3, 'z', 'a', 'm'), seq FROM seq_1_to_600"},
			key:   []KeyColumn{{Name: "e", Index: -1, Type: KeyOrdinal}, {Name: "id", Index: -1}},
			order: "SELECT CONCAT(e, '/', id) FROM t ORDER BY e, id", chunk: 250, chunks: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := setup(t, tt.stmts...)
			ctx := testContext(t)
			conn := getConn(t, ctx, db)
			q := Query{Table: "t", Columns: []string{"CONCAT_WS('/', " + keyList(tt.key) + ")"}, Key: tt.key}
			var got []string
			var after [][]byte
			for n := 1; ; n++ {
				through, err := Boundary(ctx, conn, q, after, tt.chunk)
				if err != nil {
					t.Fatal(err)
				}
				cq := q
				cq.After, cq.Through = after, through
				rows := column(collect(t, ctx, newCursor(t, cq, Options{PageSize: fixed(37)}), conn), 0)
				if through != nil && len(rows) != tt.chunk {
					t.Errorf("chunk %d has %d rows, want %d", n, len(rows), tt.chunk)
				}
				got = append(got, rows...)
				if through == nil {
					if n != tt.chunks {
						t.Errorf("%d chunks, want %d", n, tt.chunks)
					}
					break
				}
				after = through
			}
			if want := serverOrder(t, db, tt.order); !slices.Equal(got, want) {
				t.Fatalf("chunks read %d rows, the table has %d (or another order)", len(got), len(want))
			}
		})
	}
}

func keyList(key []KeyColumn) string {
	var names []string
	for _, k := range key {
		names = append(names, "`"+k.Name+"`")
	}
	return strings.Join(names, ", ")
}

// TestBoundedPageUsesRange checks that a chunk's first page, with both
// bounds in the nested form, is a range scan over the composite key that
// reads about one page, however deep the chunk starts.
func TestBoundedPageUsesRange(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (a INT NOT NULL, b VARCHAR(20) NOT NULL, v INT, PRIMARY KEY (a, b))",
		"INSERT INTO t SELECT seq DIV 100, CONCAT('k', seq % 100), seq FROM seq_1_to_100000",
		"ANALYZE TABLE t")
	ctx := testContext(t)
	conn := getConn(t, ctx, db)
	key := []KeyColumn{{Name: "a", Index: -1}, {Name: "b", Index: -1, Type: KeyText}}
	q := Query{Table: "t", Columns: []string{"`v`"}, Key: key,
		After: [][]byte{[]byte("700"), []byte("k5")}, Through: [][]byte{[]byte("720"), []byte("k50")}}
	b := build(q)
	args := append(boundArgs(key, q.After), boundArgs(key, q.Through)...)
	args = append(args, int64(1000))
	explainRange(t, ctx, conn, b.first, args, "86")
	n, readFirst, readNext := handlerReads(t, ctx, conn, b.first, args)
	if n != 1000 || readFirst != 0 || readNext > 1010 {
		t.Errorf("page of %d rows: Handler_read_first=%d Handler_read_next=%d, want 1000 rows from a range", n, readFirst, readNext)
	}
}
