package paginate

import (
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// unmappable is the WHERE condition on seq (a two-byte code) that keeps the
// characters of charset cs that are valid in cs but have no Unicode
// mapping: converted to utf8mb4 they become '?'. gbk has 2149 such codes
// on MariaDB 10.11 (from A140), big5 256 (from A3C0), sjis 4401 (from 81AD).
func unmappable(cs string) string {
	return "(seq & 255) BETWEEN 64 AND 254 AND (seq & 255) <> 127 AND CHAR_LENGTH(CHAR(seq USING " + cs +
		")) = 1 AND HEX(CONVERT(CHAR(seq USING " + cs + ") USING utf8mb4)) = '3F'"
}

// charsetTables are tables keyed by text in a charset other than the
// connection's, with keys whose bytes a conversion to utf8mb4 loses, and
// keys that are equal under the collation but differ in their bytes.
// order is the server's key order, one string per row, each key column as
// HEX and the others as they are, joined by '/'.
func charsetTables() []struct {
	name  string
	stmts []string
	order string
} {
	type tc = struct {
		name  string
		stmts []string
		order string
	}
	var out []tc
	for _, cs := range []string{"gbk", "big5", "sjis"} {
		codes := "FROM seq_33088_to_65278 WHERE " + unmappable(cs)
		out = append(out,
			tc{name: cs + " single",
				stmts: []string{
					"CREATE TABLE t (k VARCHAR(10) CHARACTER SET " + cs + " NOT NULL PRIMARY KEY, v INT)",
					// Every unmappable character alone, and followed by a
					// letter; a few mapped characters and '?' itself.
					"SET STATEMENT sql_mode = '' FOR INSERT INTO t SELECT CHAR(seq USING " + cs + "), seq " + codes,
					"SET STATEMENT sql_mode = '' FOR INSERT INTO t SELECT CONCAT(CHAR(seq USING " + cs + "), 'x'), -seq " + codes + " AND seq % 3 = 0",
					"INSERT INTO t VALUES ('?', 1), ('??', 2), ('a', 3), ('B', 4), ('', 5), ('c ', 6)",
				},
				order: "SELECT CONCAT_WS('/', HEX(k)) FROM t ORDER BY k"},
			tc{name: cs + " composite with int",
				stmts: []string{
					"CREATE TABLE t (k VARCHAR(10) CHARACTER SET " + cs + " NOT NULL, n INT NOT NULL, v INT, PRIMARY KEY (k, n))",
					// Each character 1 to 3 times, so that pages end inside a
					// group of equal k.
					"SET STATEMENT sql_mode = '' FOR INSERT INTO t SELECT CHAR(s.seq USING " + cs + "), n.seq, s.seq FROM seq_33088_to_65278 s JOIN seq_1_to_3 n ON n.seq <= 1 + s.seq % 3 WHERE " +
						strings.ReplaceAll(unmappable(cs), "seq", "s.seq"),
				},
				order: "SELECT CONCAT_WS('/', HEX(k), n) FROM t ORDER BY k, n"},
			tc{name: cs + " int then text",
				stmts: []string{
					"CREATE TABLE t (n INT NOT NULL, k VARCHAR(10) CHARACTER SET " + cs + " NOT NULL, v INT, PRIMARY KEY (n, k))",
					"SET STATEMENT sql_mode = '' FOR INSERT INTO t SELECT seq % 5, CHAR(seq USING " + cs + "), seq " + codes,
				},
				order: "SELECT CONCAT_WS('/', n, HEX(k)) FROM t ORDER BY n, k"},
		)
	}
	out = append(out,
		// 'a', 'A', 'ä' and 'a ' are equal under utf8mb4_general_ci (PAD
		// SPACE): a unique key holds one of them, a composite one all.
		tc{name: "collation-equal composite",
			stmts: []string{
				"CREATE TABLE t (k VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, n INT NOT NULL, v INT, PRIMARY KEY (k, n))",
				"SET STATEMENT sql_mode = '' FOR INSERT INTO t SELECT ELT(1 + seq % 6, 'a', 'A', 'ä', 'a ', 'Ä ', 'b'), seq, seq FROM seq_1_to_300",
			},
			order: "SELECT CONCAT_WS('/', HEX(k), n) FROM t ORDER BY k, n"},
		tc{name: "collation-equal gbk composite",
			stmts: []string{
				"CREATE TABLE t (k VARCHAR(10) CHARACTER SET gbk NOT NULL, n INT NOT NULL, v INT, PRIMARY KEY (k, n))",
				"SET STATEMENT sql_mode = '' FOR INSERT INTO t SELECT CONCAT(CHAR(33088 + (seq DIV 6) % 40 USING gbk), ELT(1 + seq % 6, 'a', 'A', 'a ', 'A ', 'b', '')), seq, seq FROM seq_1_to_600",
				"SET STATEMENT sql_mode = '' FOR INSERT INTO t SELECT CONCAT(CHAR(seq USING gbk), IF(seq % 2, 'q', 'Q ')), seq, seq FROM seq_33088_to_65278 WHERE " + unmappable("gbk"),
			},
			order: "SELECT CONCAT_WS('/', HEX(k), n) FROM t ORDER BY k, n"},
		// A charset whose characters are 2 or 4 bytes, none of them ASCII.
		tc{name: "utf16 single",
			stmts: []string{
				"CREATE TABLE t (k VARCHAR(10) CHARACTER SET utf16 NOT NULL PRIMARY KEY, v INT)",
				"INSERT INTO t SELECT CONCAT(CHAR(0x4E00 + seq USING utf16), IF(seq % 3, 'a', 'A ')), seq FROM seq_1_to_600",
				"INSERT INTO t SELECT CONCAT(CONVERT(CHAR(0x1F600 + seq USING utf32) USING utf16), seq), -seq FROM seq_0_to_79",
			},
			order: "SELECT CONCAT_WS('/', HEX(k)) FROM t ORDER BY k"},
		// Under a NO PAD collation 'a' and 'a ' are two keys.
		tc{name: "nopad gbk single",
			stmts: []string{
				"CREATE TABLE t (k VARCHAR(10) CHARACTER SET gbk COLLATE gbk_chinese_nopad_ci NOT NULL PRIMARY KEY, v INT)",
				"SET STATEMENT sql_mode = '' FOR INSERT INTO t SELECT CONCAT(CHAR(seq USING gbk), REPEAT(' ', seq % 3)), seq FROM seq_33088_to_65278 WHERE " + unmappable("gbk"),
				"INSERT INTO t VALUES ('a', 1), ('a ', 2), ('a  ', 3), ('?', 4), ('? ', 5)",
			},
			order: "SELECT CONCAT_WS('/', HEX(k)) FROM t ORDER BY k"},
	)
	return out
}

// hexKeyColumns returns a SELECT expression that gives each row as the
// order strings of charsetTables do: text key columns as HEX.
func hexKeyColumns(key []KeyColumn) string {
	var parts []string
	for _, k := range key {
		if k.Type == KeyText {
			parts = append(parts, "HEX(`"+k.Name+"`)")
		} else {
			parts = append(parts, "`"+k.Name+"`")
		}
	}
	return "CONCAT_WS('/', " + strings.Join(parts, ", ") + ")"
}

// TestUnmappableTextKeys reads tables keyed by gbk, big5 and sjis text that
// utf8mb4 cannot represent, and by keys equal under their collation but
// not in their bytes, with a tiny page size: every row comes back exactly
// once, in the server's order. Read as utf8mb4 text, the key of a page's
// last row became '?' and the next page started elsewhere.
func TestUnmappableTextKeys(t *testing.T) {
	for _, tt := range charsetTables() {
		t.Run(tt.name, func(t *testing.T) {
			db, name := setup(t, tt.stmts...)
			ctx := testContext(t)
			if !strings.HasPrefix(tt.name, "collation-equal composite") && !strings.HasPrefix(tt.name, "utf16") {
				var lost int
				if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t WHERE HEX(CONVERT(k USING utf8mb4)) LIKE '%3F%'").Scan(&lost); err != nil {
					t.Fatal(err)
				}
				if lost < 100 {
					t.Fatalf("%d keys lose bytes in utf8mb4, want at least 100", lost)
				}
			}
			key, err := FindKey(ctx, db, "", "t")
			if err != nil {
				t.Fatal(err)
			}
			want := serverOrder(t, db, tt.order)
			conn := getConn(t, ctx, db)
			prepared := getConn(t, ctx, openNoInterpolate(t, name))
			for _, run := range []struct {
				name string
				conn *sql.Conn
				size int
			}{{"page 1", conn, 1}, {"page 7", conn, 7}, {"page 100", conn, 100}, {"page 7 prepared", prepared, 7}} {
				t.Run(run.name, func(t *testing.T) {
					c := newCursor(t, Query{Table: "t", Columns: []string{hexKeyColumns(key)}, Key: key}, Options{PageSize: fixed(run.size)})
					got := column(collect(t, ctx, c, run.conn), 0)
					if !slices.Equal(got, want) {
						t.Fatalf("read %d rows, the table has %d (or another order)%s", len(got), len(want), firstDiff(got, want))
					}
				})
			}
		})
	}
}

// TestUnmappableTextChunks cuts the tables of TestUnmappableTextKeys into
// chunks with Boundary and reads each with a bounded cursor: every row
// once, in order, and every chunk but the last exactly its size.
func TestUnmappableTextChunks(t *testing.T) {
	for _, tt := range charsetTables() {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := setup(t, tt.stmts...)
			ctx := testContext(t)
			key, err := FindKey(ctx, db, "", "t")
			if err != nil {
				t.Fatal(err)
			}
			want := serverOrder(t, db, tt.order)
			conn := getConn(t, ctx, db)
			q := Query{Table: "t", Columns: []string{hexKeyColumns(key)}, Key: key}
			const size = 97
			var got []string
			var after [][]byte
			for n := 1; n <= len(want)/size+2; n++ {
				through, err := Boundary(ctx, conn, q, after, size)
				if err != nil {
					t.Fatal(err)
				}
				cq := q
				cq.After, cq.Through = after, through
				rows := column(collect(t, ctx, newCursor(t, cq, Options{PageSize: fixed(13)}), conn), 0)
				if through != nil && len(rows) != size {
					t.Errorf("chunk %d has %d rows, want %d", n, len(rows), size)
				}
				if count, err := Count(ctx, conn, cq); err != nil || count != int64(len(rows)) {
					t.Errorf("chunk %d: Count = %d, %v; the cursor read %d rows", n, count, err, len(rows))
				}
				got = append(got, rows...)
				if through == nil {
					break
				}
				after = through
			}
			if !slices.Equal(got, want) {
				t.Fatalf("chunks read %d rows, the table has %d (or another order)%s", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

// firstDiff describes where got and want part.
func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return ": row " + strconv.Itoa(i) + " is " + got[i] + ", want " + want[i]
		}
	}
	return ""
}

// TestCharsetKeyUsesRange: a page after a gbk key, passed back as
// CONVERT(UNHEX(?) USING gbk) COLLATE, is a range scan over the whole
// composite key that reads about one page, like a plain literal.
func TestCharsetKeyUsesRange(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (a INT NOT NULL, b VARCHAR(20) CHARACTER SET gbk NOT NULL, v INT, PRIMARY KEY (a, b))",
		"INSERT INTO t SELECT seq DIV 60, CONCAT(CHAR(0xA140 + seq % 60 USING gbk), 'k'), seq FROM seq_1_to_100000",
		"ANALYZE TABLE t")
	ctx := testContext(t)
	conn := getConn(t, ctx, db)
	key, err := FindKey(ctx, db, "", "t")
	if err != nil {
		t.Fatal(err)
	}
	if key[1].Collation != "gbk_chinese_ci" {
		t.Fatalf("FindKey = %+v, want b with gbk_chinese_ci", key)
	}
	after := [][]byte{[]byte("700"), []byte("\xa1\x45k")}
	b := build(Query{Table: "t", Columns: []string{"`v`"}, Key: key})
	args := append(boundArgs(key, after), int64(1000))
	explainRange(t, ctx, conn, b.next, args, "46")
	n, readFirst, readNext := handlerReads(t, ctx, conn, b.next, args)
	if n != 1000 || readFirst != 0 || readNext > 1010 {
		t.Errorf("page of %d rows: Handler_read_first=%d Handler_read_next=%d, want 1000 rows from a range", n, readFirst, readNext)
	}
}

// TestOverlapDetected pages a gbk key the old way, as utf8mb4 text
// without its collation: the second row's key reads as '?', which sorts
// after '!' and before it, so the next page begins with that row again.
// The cursor stops with ErrOverlap instead of delivering it twice.
func TestOverlapDetected(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (k VARCHAR(10) CHARACTER SET gbk NOT NULL PRIMARY KEY, v INT)",
		"INSERT INTO t VALUES ('!', 1), (_gbk x'A140', 2), (_gbk x'A141', 3), (_gbk x'A142', 4)")
	ctx := testContext(t)
	conn := getConn(t, ctx, db)
	lossy := []KeyColumn{{Name: "k", Index: -1, Type: KeyText}}
	for _, read := range []string{"Next", "ForEach"} {
		t.Run(read, func(t *testing.T) {
			c := newCursor(t, Query{Table: "t", Columns: []string{"`v`"}, Key: lossy}, Options{PageSize: fixed(2)})
			var got []string
			var err error
			if read == "Next" {
				for c.Next(ctx, conn) {
					got = append(got, string(c.Values()[0]))
				}
				err = c.Err()
			} else {
				err = c.ForEach(ctx, conn, func(v []sql.RawBytes) error {
					got = append(got, string(v[0]))
					return nil
				})
			}
			if !errors.Is(err, ErrOverlap) || !slices.Equal(got, []string{"1", "2"}) {
				t.Fatalf("read %v, err %v; want 1 2 then ErrOverlap", got, err)
			}
		})
	}
}

// TestCount counts what a cursor reads: the whole table, a bounded range,
// with Where and its Args, and a table without a key.
func TestCount(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (k VARCHAR(10) CHARACTER SET gbk NOT NULL PRIMARY KEY, v INT)",
		"SET STATEMENT sql_mode = '' FOR INSERT INTO t SELECT CHAR(seq USING gbk), seq FROM seq_33088_to_65278 WHERE "+unmappable("gbk"),
		"CREATE TABLE nokey (v INT)", "INSERT INTO nokey SELECT seq FROM seq_1_to_50")
	ctx := testContext(t)
	key, err := FindKey(ctx, db, "", "t")
	if err != nil {
		t.Fatal(err)
	}
	lo, err := Boundary(ctx, db, Query{Table: "t", Key: key}, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	hi, err := Boundary(ctx, db, Query{Table: "t", Key: key}, lo, 250)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		q    Query
		want int64
	}{
		{"whole table", Query{Table: "t", Key: key}, 2149},
		{"after", Query{Table: "t", Key: key, After: lo}, 2049},
		{"through", Query{Table: "t", Key: key, Through: lo}, 100},
		{"after and through", Query{Table: "t", Key: key, After: lo, Through: hi}, 250},
		{"where", Query{Table: "t", Key: key, After: lo, Through: hi, Where: "v % ? = 0", Args: []any{2}}, -1},
		{"no key", Query{Table: "nokey", Where: "v > ?", Args: []any{40}}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Count(ctx, db, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			q := tt.q
			q.Columns = []string{"1"}
			if len(q.Key) > 0 {
				q.Columns = append(q.Columns, "CAST(`k` AS BINARY)")
				q.Key = []KeyColumn{key[0]}
				q.Key[0].Index = 1 // Count takes any query a cursor takes
			}
			if read := int64(len(collect(t, ctx, newCursor(t, q, Options{PageSize: fixed(31)}), db))); got != read || (tt.want >= 0 && got != tt.want) {
				t.Fatalf("Count = %d, the cursor read %d, want %d", got, read, tt.want)
			}
		})
	}
}
