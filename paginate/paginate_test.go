package paginate

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"lms-backup/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// null stands for NULL in collected rows.
const null = "\x00NULL"

// setup creates a database, runs stmts in it and returns a pool on it.
func setup(t testing.TB, stmts ...string) (*sql.DB, string) {
	t.Helper()
	s := testdb.Get(t)
	name := s.CreateDB(t, "pg")
	s.Exec(t, name, stmts...)
	return s.Open(t, name), name
}

// openNoInterpolate returns a pool on database name that uses server-side
// prepared statements instead of interpolateParams.
func openNoInterpolate(t testing.TB, name string) *sql.DB {
	t.Helper()
	cfg := testdb.Get(t).Config.Clone()
	cfg.DBName = name
	cfg.InterpolateParams = false
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	return db
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newCursor(t testing.TB, q Query, o Options) *Cursor {
	t.Helper()
	c, err := New(q, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

// getConn returns a connection closed when the test ends, after the cursors
// created later (cleanups run last in, first out: an open page would block
// the connection's Close).
func getConn(t testing.TB, ctx context.Context, db *sql.DB) *sql.Conn {
	t.Helper()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func fixed(n int) func() int { return func() int { return n } }

// collect reads c to its end and returns its rows as strings, NULL as null.
func collect(t testing.TB, ctx context.Context, c *Cursor, db Querier) [][]string {
	t.Helper()
	var out [][]string
	for c.Next(ctx, db) {
		if len(out) == 100_000 {
			t.Fatal("cursor returned 100,000 rows: it loops")
		}
		row := make([]string, len(c.Values()))
		for i, v := range c.Values() {
			if v == nil {
				row[i] = null
			} else {
				row[i] = string(v)
			}
		}
		out = append(out, row)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("cursor: %v", err)
	}
	return out
}

// column returns column i of rows.
func column(rows [][]string, i int) []string {
	out := make([]string, len(rows))
	for j, r := range rows {
		out[j] = r[i]
	}
	return out
}

// serverOrder returns the first column of query, all rows in one result.
func serverOrder(t testing.TB, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// comSelect returns the session's count of SELECT statements.
func comSelect(t testing.TB, ctx context.Context, conn *sql.Conn) int {
	t.Helper()
	var name string
	var n int
	if err := conn.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Com_select'").Scan(&name, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func seq(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return out
}

func TestIntegerKey(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, v VARCHAR(20))")
	ctx := testContext(t)
	tests := []struct {
		name        string
		rows, size  int
		wantQueries int
	}{
		{"100 rows by 7", 100, 7, 15},               // 14 full pages, a short one ends it
		{"98 rows by 7", 98, 7, 15},                 // 14 full pages, then an empty one
		{"empty table", 0, 7, 1},                    // one empty page
		{"one row by 1", 1, 1, 2},                   // a full page, then an empty one
		{"default page size", 2500, 0, 3},           // nil PageSize: 1000
		{"page size below 1 means 1", 3, -5, 4},     // 3 full pages of 1, then an empty one
		{"page larger than table", 100, 1000, 1},    // one short page
		{"page equal to table size", 100, 100, 2},   // a full page, then an empty one
		{"two rows by one, ends on empty", 2, 1, 3}, // 2 full pages, then an empty one
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := db.ExecContext(ctx, "DELETE FROM t"); err != nil {
				t.Fatal(err)
			}
			if tt.rows > 0 {
				// Inserted in reverse so that the physical order is not the key order.
				if _, err := db.ExecContext(ctx, "INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_"+strconv.Itoa(tt.rows)+" ORDER BY seq DESC"); err != nil {
					t.Fatal(err)
				}
			}
			conn := getConn(t, ctx, db)
			o := Options{}
			if tt.size != 0 {
				o.PageSize = fixed(tt.size)
			}
			c := newCursor(t, Query{Table: "t", Columns: []string{"`id`", "`v`"}, Key: []KeyColumn{{Name: "id", Index: 0}}}, o)
			before := comSelect(t, ctx, conn)
			got := collect(t, ctx, c, conn)
			queries := comSelect(t, ctx, conn) - before
			if want := seq(1, tt.rows); !slices.Equal(column(got, 0), want) {
				t.Fatalf("ids %v\nwant %v", column(got, 0), want)
			}
			for _, r := range got {
				if r[1] != "v"+r[0] {
					t.Fatalf("row %v: wrong value", r)
				}
			}
			if c.Pages() != tt.wantQueries || queries != tt.wantQueries {
				t.Errorf("Pages() = %d, server counted %d SELECTs; want %d", c.Pages(), queries, tt.wantQueries)
			}
			if c.Next(ctx, conn) {
				t.Error("Next after the end returned true")
			}
		})
	}
}

func TestCompositeKey(t *testing.T) {
	db, _ := setup(t,
		"CREATE TABLE t (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (a, b))",
		"INSERT INTO t SELECT x.seq, ELT(y.seq, 'a', 'B', 'c', 'D', 'e ', 'F'), x.seq * 10 + y.seq "+
			"FROM seq_1_to_10 x JOIN seq_1_to_6 y ORDER BY RAND(1)")
	ctx := testContext(t)
	want := serverOrder(t, db, "SELECT CONCAT(a, '|', b) FROM t ORDER BY a, b")
	if len(want) != 60 {
		t.Fatalf("fixture has %d rows", len(want))
	}
	for _, size := range []int{1, 3, 4, 6, 7, 60, 61} {
		t.Run(fmt.Sprintf("page %d", size), func(t *testing.T) {
			c := newCursor(t, Query{Table: "t", Columns: []string{"CONCAT(`a`, '|', `b`)", "`b`", "`a`"},
				Key: []KeyColumn{{Name: "a", Index: 2}, {Name: "b", Index: 1, Type: KeyText}}}, Options{PageSize: fixed(size)})
			got := column(collect(t, ctx, c, db), 0)
			if !slices.Equal(got, want) {
				t.Fatalf("got  %q\nwant %q", got, want)
			}
			if wantPages := 60/size + 1; c.Pages() != wantPages {
				t.Errorf("Pages() = %d, want %d", c.Pages(), wantPages)
			}
		})
	}
}

func TestTextKeyCollations(t *testing.T) {
	values := []string{"a", "A", "B", "b ", "c", "é", "É", "e", "ä", "f ", "f", "g  ", "Z", "ß", "ss", "0", "", " ", "aa", "a!", "a ", "a  ", "x", "ü", "y", "Ÿ"}
	tests := []struct {
		name, column string
	}{
		{"utf8mb4_general_ci", "VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"},
		{"utf8mb4_unicode_ci", "VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"},
		{"utf8mb4_general_nopad_ci", "VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_nopad_ci"},
		{"utf8mb4_bin", "VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"},
		{"latin1_swedish_ci", "VARCHAR(10) CHARACTER SET latin1 COLLATE latin1_swedish_ci"},
		{"char utf8mb4_general_ci", "CHAR(5) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, name := setup(t, "CREATE TABLE t (k "+tt.column+" NOT NULL PRIMARY KEY, n INT NOT NULL)")
			ctx := testContext(t)
			for i, v := range values {
				// IGNORE: values equal under the collation keep the first.
				if _, err := db.ExecContext(ctx, "INSERT IGNORE INTO t VALUES (?, ?)", v, i); err != nil {
					t.Fatal(err)
				}
			}
			want := serverOrder(t, db, "SELECT CONCAT('[', k, ']') FROM t ORDER BY k")
			if len(want) < 10 {
				t.Fatalf("only %d distinct values: %q", len(want), want)
			}
			key, err := FindKey(ctx, db, "", "t")
			if err != nil {
				t.Fatal(err)
			}
			if len(key) != 1 || key[0].Type != KeyText {
				t.Fatalf("FindKey = %+v, want one text column", key)
			}
			for _, mode := range []struct {
				name string
				db   *sql.DB
			}{{"interpolated", db}, {"prepared", openNoInterpolate(t, name)}} {
				for _, size := range []int{1, 2, 5} {
					t.Run(fmt.Sprintf("%s page %d", mode.name, size), func(t *testing.T) {
						c := newCursor(t, Query{Table: "t", Columns: []string{"CONCAT('[', `k`, ']')"}, Key: key},
							Options{PageSize: fixed(size)})
						got := column(collect(t, ctx, c, mode.db), 0)
						if !slices.Equal(got, want) {
							t.Fatalf("got  %q\nwant %q", got, want)
						}
					})
				}
			}
		})
	}
}

func TestBinaryKey(t *testing.T) {
	db, name := setup(t, "CREATE TABLE t (k VARBINARY(4) NOT NULL PRIMARY KEY)")
	ctx := testContext(t)
	var want [][]byte
	for b := range 256 {
		want = append(want, []byte{byte(b)})
	}
	want = append(want, []byte{}, []byte{0, 0}, []byte{0, 0xff}, []byte{0xff, 0}, []byte("A\x00"), []byte("a "), []byte("'\\"), []byte{0xc3, 0xa9})
	for _, v := range want {
		if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (?)", v); err != nil {
			t.Fatalf("insert %x: %v", v, err)
		}
	}
	slices.SortFunc(want, bytes.Compare)
	key, err := FindKey(ctx, db, name, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 1 || key[0].Type != KeyBinary {
		t.Fatalf("FindKey = %+v, want one binary column", key)
	}
	key[0].Index = 0
	for _, mode := range []struct {
		name string
		db   *sql.DB
	}{{"interpolated", db}, {"prepared", openNoInterpolate(t, name)}} {
		for _, size := range []int{1, 3, 100} {
			t.Run(fmt.Sprintf("%s page %d", mode.name, size), func(t *testing.T) {
				c := newCursor(t, Query{Table: "t", Columns: []string{"`k`"}, Key: key}, Options{PageSize: fixed(size)})
				var got [][]byte
				for c.Next(ctx, mode.db) {
					got = append(got, bytes.Clone(c.Values()[0]))
				}
				if err := c.Err(); err != nil {
					t.Fatal(err)
				}
				if !slices.EqualFunc(got, want, bytes.Equal) {
					t.Fatalf("got  %x\nwant %x", got, want)
				}
			})
		}
	}
}

func TestNumericKeys(t *testing.T) {
	tests := []struct {
		name, column string
		values       []string
	}{
		{"bigint", "BIGINT", []string{"-9223372036854775808", "-1", "0", "1", "9223372036854775807", "42"}},
		{"bigint unsigned", "BIGINT UNSIGNED", []string{"0", "1", "9223372036854775807", "9223372036854775808", "18446744073709551615"}},
		{"int zerofill", "INT(6) UNSIGNED ZEROFILL", []string{"1", "7", "10", "100000", "4294967295"}},
		{"decimal", "DECIMAL(40,10)", []string{"123456789012345678901234567890.0000000001", "123456789012345678901234567890.0000000002",
			"-0.0000000001", "0", "0.0000000001", "-123456789012345678901234567890.0000000001"}},
		{"datetime(6)", "DATETIME(6)", []string{"2024-01-01 00:00:00.000001", "2024-01-01 00:00:00", "1000-01-01 00:00:00", "9999-12-31 23:59:59.999999", "2024-01-01 00:00:00.5"}},
		{"date", "DATE", []string{"2024-02-29", "1970-01-01", "0000-00-00", "2024-03-01"}},
		{"timestamp", "TIMESTAMP(3)", []string{"2024-01-01 00:00:00.001", "1970-01-02 00:00:00", "2038-01-19 03:14:07.999"}},
		{"time", "TIME", []string{"-838:59:59", "-00:00:01", "00:00:00", "12:00:00", "838:59:59", "100:00:00"}},
		{"year", "YEAR", []string{"1901", "2155", "2024", "0000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := setup(t, "CREATE TABLE t (k "+tt.column+" NOT NULL PRIMARY KEY)")
			ctx := testContext(t)
			conn := getConn(t, ctx, db)
			if _, err := conn.ExecContext(ctx, "SET SESSION sql_mode = '', time_zone = '+00:00'"); err != nil {
				t.Fatal(err)
			}
			for _, v := range tt.values {
				if _, err := conn.ExecContext(ctx, "INSERT INTO t VALUES (?)", v); err != nil {
					t.Fatalf("insert %s: %v", v, err)
				}
			}
			var want []string
			rows, err := conn.QueryContext(ctx, "SELECT CAST(k AS CHAR) FROM t ORDER BY k")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s string
				rows.Scan(&s)
				want = append(want, s)
			}
			if err := rows.Close(); err != nil {
				t.Fatal(err)
			}
			key, err := FindKey(ctx, conn, "", "t")
			if err != nil {
				t.Fatal(err)
			}
			if len(key) != 1 || key[0].Type != KeyNumber {
				t.Fatalf("FindKey = %+v, want one number column", key)
			}
			key[0].Index = 1
			c := newCursor(t, Query{Table: "t", Columns: []string{"CAST(`k` AS CHAR)", "`k`"}, Key: key}, Options{PageSize: fixed(1)})
			got := column(collect(t, ctx, c, conn), 0)
			if !slices.Equal(got, want) {
				t.Fatalf("got  %q\nwant %q", got, want)
			}
			if c.Pages() != len(want)+1 {
				t.Errorf("Pages() = %d, want %d", c.Pages(), len(want)+1)
			}
		})
	}
}

func TestOrdinalKeys(t *testing.T) {
	tests := []struct {
		name   string
		stmts  []string
		cols   []string
		expect string // query giving the expected order
	}{
		{"enum", []string{"CREATE TABLE t (k ENUM('zeta','alpha','Mid','beta') NOT NULL PRIMARY KEY)",
			"INSERT INTO t VALUES ('beta'),('alpha'),('Mid'),('zeta')"},
			[]string{"`k`"}, "SELECT k FROM t ORDER BY k"},
		{"enum and int", []string{"CREATE TABLE t (e ENUM('zeta','alpha','Mid','beta') NOT NULL, n INT NOT NULL, PRIMARY KEY (e, n))",
			"INSERT INTO t SELECT ELT(1 + seq MOD 4, 'zeta','alpha','Mid','beta'), seq FROM seq_1_to_40"},
			[]string{"CONCAT(`e`, '|', `n`)", "`e`", "`n`"}, "SELECT CONCAT(e, '|', n) FROM t ORDER BY e, n"},
		{"set", []string{"CREATE TABLE t (k SET('zeta','alpha','beta') NOT NULL PRIMARY KEY)",
			"INSERT INTO t VALUES ('zeta'),('alpha'),('beta'),('zeta,alpha'),('alpha,beta'),('')"},
			[]string{"`k`"}, "SELECT k FROM t ORDER BY k"},
		{"bit", []string{"CREATE TABLE t (k BIT(12) NOT NULL PRIMARY KEY)",
			"INSERT INTO t VALUES (0),(1),(65),(255),(256),(4095),(32),(39)"},
			[]string{"HEX(`k`)"}, "SELECT HEX(k) FROM t ORDER BY k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, _ := setup(t, tt.stmts...)
			ctx := testContext(t)
			want := serverOrder(t, db, tt.expect)
			key, err := FindKey(ctx, db, "", "t")
			if err != nil {
				t.Fatal(err)
			}
			if len(key) == 0 || key[0].Type != KeyOrdinal {
				t.Fatalf("FindKey = %+v, want an ordinal first column", key)
			}
			for i := range key {
				if len(tt.cols) > 1 {
					key[i].Index = i + 1 // ignored for ordinal columns
				}
			}
			for _, size := range []int{1, 2, 3} {
				t.Run(fmt.Sprintf("page %d", size), func(t *testing.T) {
					c := newCursor(t, Query{Table: "t", Columns: tt.cols, Key: key}, Options{PageSize: fixed(size)})
					rows := collect(t, ctx, c, db)
					if got := column(rows, 0); !slices.Equal(got, want) {
						t.Fatalf("got  %q\nwant %q", got, want)
					}
					if len(rows[0]) != len(tt.cols) {
						t.Fatalf("Values has %d columns, want %d", len(rows[0]), len(tt.cols))
					}
				})
			}
		})
	}
}

func TestFindKey(t *testing.T) {
	tests := []struct {
		name   string
		create string
		want   []KeyColumn // nil: no key
	}{
		{"primary", "CREATE TABLE t (id INT PRIMARY KEY, u INT NOT NULL UNIQUE)", []KeyColumn{{Name: "id", Index: -1, Type: KeyNumber}}},
		{"composite primary", "CREATE TABLE t (a INT, b VARCHAR(5), c VARBINARY(5), PRIMARY KEY (b, c, a), UNIQUE KEY (a))",
			[]KeyColumn{utf8Key("b"), {Name: "c", Index: -1, Type: KeyBinary}, {Name: "a", Index: -1, Type: KeyNumber}}},
		{"unique not null", "CREATE TABLE t (a INT NULL, b CHAR(3) NOT NULL, c INT NOT NULL, UNIQUE KEY za (a), UNIQUE KEY zb (b, c))",
			[]KeyColumn{utf8Key("b"), {Name: "c", Index: -1, Type: KeyNumber}}},
		{"fewest columns wins", "CREATE TABLE t (a INT NOT NULL, b INT NOT NULL, c TEXT NOT NULL, UNIQUE KEY aa (a, b), UNIQUE KEY zz (c(10)), UNIQUE KEY mm (b))",
			[]KeyColumn{{Name: "b", Index: -1, Type: KeyNumber}}},
		{"tie by name", "CREATE TABLE t (a INT NOT NULL, b INT NOT NULL, UNIQUE KEY kb (b), UNIQUE KEY ka (a))",
			[]KeyColumn{{Name: "a", Index: -1, Type: KeyNumber}}},
		{"only nullable unique", "CREATE TABLE t (a INT NULL UNIQUE, b INT)", nil},
		{"no index", "CREATE TABLE t (a INT, b INT)", nil},
		{"non-unique index", "CREATE TABLE t (a INT NOT NULL, KEY (a))", nil},
		{"prefix unique", "CREATE TABLE t (a VARCHAR(100) NOT NULL, UNIQUE KEY (a(10)))", nil},
		{"long unique hash", "CREATE TABLE t (a TEXT NOT NULL, UNIQUE KEY (a))", nil},
		{"memory hash primary", "CREATE TABLE t (a INT NOT NULL PRIMARY KEY) ENGINE=MEMORY", nil},
		{"memory btree primary", "CREATE TABLE t (a INT NOT NULL, PRIMARY KEY USING BTREE (a)) ENGINE=MEMORY", []KeyColumn{{Name: "a", Index: -1, Type: KeyNumber}}},
		{"float primary", "CREATE TABLE t (f FLOAT NOT NULL PRIMARY KEY)", nil},
		{"double unique, int unique", "CREATE TABLE t (d DOUBLE NOT NULL, i INT NOT NULL, UNIQUE KEY a (d), UNIQUE KEY b (i))", []KeyColumn{{Name: "i", Index: -1, Type: KeyNumber}}},
		{"enum set bit", "CREATE TABLE t (e ENUM('x','y') NOT NULL, s SET('x','y') NOT NULL, b BIT(3) NOT NULL, PRIMARY KEY (e, s, b))",
			[]KeyColumn{{Name: "e", Index: -1, Type: KeyOrdinal}, {Name: "s", Index: -1, Type: KeyOrdinal}, {Name: "b", Index: -1, Type: KeyOrdinal}}},
		{"uuid inet6", "CREATE TABLE t (u UUID NOT NULL, i INET6 NOT NULL, PRIMARY KEY (u, i))", []KeyColumn{{Name: "u", Index: -1, Type: KeyText}, {Name: "i", Index: -1, Type: KeyText}}},
		{"temporal decimal", "CREATE TABLE t (d DATE NOT NULL, x DECIMAL(5,2) NOT NULL, PRIMARY KEY (d, x))", []KeyColumn{{Name: "d", Index: -1, Type: KeyNumber}, {Name: "x", Index: -1, Type: KeyNumber}}},
		{"descending", "CREATE TABLE t (a INT NOT NULL, PRIMARY KEY (a DESC))", []KeyColumn{{Name: "a", Index: -1, Type: KeyNumber}}},
	}
	s := testdb.Get(t)
	name := s.CreateDB(t, "pgkey")
	db := s.Open(t, "") // no current database: FindKey gets the schema
	ctx := testContext(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := fmt.Sprintf("t%d", i)
			create := strings.Replace(tt.create, "TABLE t ", "TABLE `"+name+"`.`"+table+"` ", 1)
			if _, err := db.ExecContext(ctx, create); err != nil {
				t.Fatal(err)
			}
			got, err := FindKey(ctx, db, name, table)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("FindKey = %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("missing table", func(t *testing.T) {
		got, err := FindKey(ctx, db, name, "nope")
		if got != nil || err != nil {
			t.Fatalf("FindKey = %v, %v; want nil, nil", got, err)
		}
	})
}

// utf8Key is what FindKey returns for a text column in the test server's
// default charset and collation.
func utf8Key(name string) KeyColumn {
	return KeyColumn{Name: name, Index: -1, Type: KeyText, Charset: "utf8mb4", Collation: "utf8mb4_general_ci"}
}

func TestUniqueKeyWithoutPrimary(t *testing.T) {
	db, _ := setup(t,
		"CREATE TABLE t (id INT NULL, code VARCHAR(10) NOT NULL, n INT, UNIQUE KEY by_id (id), UNIQUE KEY by_code (code))",
		"INSERT INTO t SELECT IF(seq % 5 = 0, NULL, seq), CONCAT(IF(seq % 2, 'K', 'k'), LPAD(seq, 3, '0')), seq FROM seq_1_to_50")
	ctx := testContext(t)
	key, err := FindKey(ctx, db, "", "t")
	if err != nil {
		t.Fatal(err)
	}
	if want := []KeyColumn{utf8Key("code")}; !slices.Equal(key, want) {
		t.Fatalf("FindKey = %+v, want %+v", key, want)
	}
	c := newCursor(t, Query{Table: "t", Columns: []string{"`n`", "`id`"}, Key: key}, Options{PageSize: fixed(6)})
	rows := collect(t, ctx, c, db)
	if got := column(rows, 0); !slices.Equal(got, seq(1, 50)) {
		t.Fatalf("n = %v", got)
	}
	if len(rows[0]) != 2 || rows[4][1] != null {
		t.Fatalf("rows[4] = %q, want 2 columns with NULL id", rows[4])
	}
}

func TestNoKeyFallback(t *testing.T) {
	db, _ := setup(t,
		"CREATE TABLE t (a INT, b VARCHAR(5))",
		"INSERT INTO t SELECT seq % 4, 'x' FROM seq_1_to_20", // duplicate rows
	)
	ctx := testContext(t)
	key, err := FindKey(ctx, db, "", "t")
	if err != nil || key != nil {
		t.Fatalf("FindKey = %v, %v; want nil, nil", key, err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	calls := 0
	c := newCursor(t, Query{Table: "t", Columns: []string{"`a`", "`b`"}, Key: key, Where: "`b` = ?", Args: []any{"x"}},
		Options{Log: log, PageSize: func() int { calls++; return 3 }})
	conn := getConn(t, ctx, db)
	before := comSelect(t, ctx, conn)
	rows := collect(t, ctx, c, conn)
	if len(rows) != 20 {
		t.Fatalf("got %d rows, want 20", len(rows))
	}
	if q := comSelect(t, ctx, conn) - before; q != 1 || c.Pages() != 1 {
		t.Errorf("server counted %d SELECTs, Pages() = %d; want 1", q, c.Pages())
	}
	if calls != 0 {
		t.Errorf("PageSize called %d times without a key", calls)
	}
	const msg = "table has no primary or unique NOT NULL key: reading it in one streamed query"
	if n := strings.Count(logs.String(), msg); n != 1 || !strings.Contains(logs.String(), "level=INFO") || !strings.Contains(logs.String(), "table=`t`") {
		t.Errorf("logged %d times:\n%s", n, logs.String())
	}
}

func TestChangingPageSize(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t SELECT seq FROM seq_1_to_50")
	ctx := testContext(t)
	sizes := []int{5, 2, 9, 1, 4}
	calls := 0
	c := newCursor(t, Query{Table: "t", Columns: []string{"`id`"}, Key: []KeyColumn{{Name: "id", Index: 0}}},
		Options{PageSize: func() int { s := sizes[calls%len(sizes)]; calls++; return s }})
	var perPage []int
	var ids []string
	for c.Next(ctx, db) {
		if c.Pages() > len(perPage) {
			perPage = append(perPage, 0)
		}
		perPage[c.Pages()-1]++
		ids = append(ids, string(c.Values()[0]))
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, seq(1, 50)) {
		t.Fatalf("ids %v", ids)
	}
	// 5+2+9+1+4 twice is 42; then 5 (47), 2 (49), and a page of 9 that holds the last row.
	if want := []int{5, 2, 9, 1, 4, 5, 2, 9, 1, 4, 5, 2, 1}; !slices.Equal(perPage, want) {
		t.Fatalf("rows per page %v, want %v", perPage, want)
	}
	if calls != 13 || c.Pages() != 13 {
		t.Fatalf("PageSize called %d times, Pages() = %d; want 13", calls, c.Pages())
	}
}

func TestWhereArgsAndHiddenKey(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(5))",
		"INSERT INTO t SELECT seq, seq * 2, IF(seq % 2, 'odd', 'even') FROM seq_1_to_100 ORDER BY RAND(2)")
	ctx := testContext(t)
	tests := []struct {
		name  string
		where string
		args  []any
		want  func(id int) bool
	}{
		{"no where", "", nil, func(int) bool { return true }},
		{"args", "`v` % ? = ? AND `s` = ?", []any{3, 0, "odd"}, func(id int) bool { return id%3 == 0 && id%2 == 1 }},
		{"or needs parentheses", "`id` < ? OR `id` > ?", []any{10, 95}, func(id int) bool { return id < 10 || id > 95 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCursor(t, Query{Table: "t", Columns: []string{"`v`"}, Key: []KeyColumn{{Name: "id", Index: -1}}, Where: tt.where, Args: tt.args},
				Options{PageSize: fixed(4)})
			var want []string
			for id := 1; id <= 100; id++ {
				if tt.want(id) {
					want = append(want, strconv.Itoa(2*id))
				}
			}
			rows := collect(t, ctx, c, db)
			for _, r := range rows {
				if len(r) != 1 {
					t.Fatalf("Values() = %q: the hidden key leaked", r)
				}
			}
			if got := column(rows, 0); !slices.Equal(got, want) {
				t.Fatalf("got  %v\nwant %v", got, want)
			}
		})
	}
}

// TestValuesReused: Values lends the same slice for every row, and its
// elements point into the driver's or database/sql's buffers (no copy).
func TestValuesReused(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(10))", "INSERT INTO t SELECT seq, 'abc' FROM seq_1_to_10")
	ctx := testContext(t)
	c := newCursor(t, Query{Table: "t", Columns: []string{"`id`", "`s`"}, Key: []KeyColumn{{Name: "id", Index: 0}}}, Options{PageSize: fixed(4)})
	var first *sql.RawBytes
	n := 0
	for c.Next(ctx, db) {
		v := c.Values()
		if first == nil {
			first = &v[0]
		} else if &v[0] != first {
			t.Fatal("Values returned a new slice")
		}
		n++
	}
	if err := c.Err(); err != nil || n != 10 {
		t.Fatalf("read %d rows, err %v", n, err)
	}
}

// TestAliasShadowsKey: ORDER BY prefers a SELECT alias to a column of the
// same name; the cursor's qualified names must still order by the column.
func TestAliasShadowsKey(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t SELECT seq FROM seq_1_to_20")
	ctx := testContext(t)
	c := newCursor(t, Query{Table: "t", Columns: []string{"-`id` AS `id`"}, Key: []KeyColumn{{Name: "id", Index: -1}}}, Options{PageSize: fixed(3)})
	got := column(collect(t, ctx, c, db), 0)
	var want []string
	for i := 1; i <= 20; i++ {
		want = append(want, strconv.Itoa(-i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestNullAndEmpty(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(5), b VARBINARY(5), n INT)",
		"INSERT INTO t VALUES (1, NULL, NULL, NULL), (2, '', '', 0), (3, 'x', 'y', 5)")
	ctx := testContext(t)
	for _, size := range []int{1, 10} {
		t.Run(fmt.Sprintf("page %d", size), func(t *testing.T) {
			c := newCursor(t, Query{Table: "t", Columns: []string{"`s`", "`b`", "`n`"}, Key: []KeyColumn{{Name: "id", Index: -1}}},
				Options{PageSize: fixed(size)})
			var i int
			for c.Next(ctx, db) {
				v := c.Values()
				switch i {
				case 0:
					if v[0] != nil || v[1] != nil || v[2] != nil {
						t.Errorf("row 1 = %q, want NULLs (nil)", v)
					}
				case 1:
					if v[0] == nil || len(v[0]) != 0 || v[1] == nil || len(v[1]) != 0 || string(v[2]) != "0" {
						t.Errorf("row 2 = %#v, want non-nil empty strings and 0", v)
					}
				case 2:
					if string(v[0]) != "x" || string(v[1]) != "y" || string(v[2]) != "5" {
						t.Errorf("row 3 = %q", v)
					}
				}
				i++
			}
			if err := c.Err(); err != nil || i != 3 {
				t.Fatalf("read %d rows, err %v", i, err)
			}
		})
	}
}

func TestNullKeyValue(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (k INT NULL, UNIQUE KEY (k))", "INSERT INTO t VALUES (NULL), (NULL), (1), (2)")
	ctx := testContext(t)
	c := newCursor(t, Query{Table: "t", Columns: []string{"`k`"}, Key: []KeyColumn{{Name: "k", Index: 0}}}, Options{PageSize: fixed(1)})
	for c.Next(ctx, db) {
	}
	if !errors.Is(c.Err(), ErrNullKey) {
		t.Fatalf("Err() = %v, want ErrNullKey", c.Err())
	}
}

// TestNoProgress: a FLOAT's text is rounded, so "f > '0.1'" is true for the
// stored 0.1f and the next page starts on the same row. The cursor stops
// on that row (ErrOverlap) instead of delivering it again and looping
// (FindKey never offers such a key).
func TestNoProgress(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (f FLOAT NOT NULL PRIMARY KEY)", "INSERT INTO t VALUES (0.1), (0.2), (0.3)")
	ctx := testContext(t)
	c := newCursor(t, Query{Table: "t", Columns: []string{"`f`"}, Key: []KeyColumn{{Name: "f", Index: 0}}}, Options{PageSize: fixed(1)})
	n := 0
	for c.Next(ctx, db) {
		if n++; n > 10 {
			t.Fatal("cursor loops")
		}
	}
	if !errors.Is(c.Err(), ErrOverlap) || n != 1 {
		t.Fatalf("Err() = %v after %d rows, want ErrOverlap after 1", c.Err(), n)
	}
}

func TestCancel(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (id INT PRIMARY KEY, pad VARCHAR(100))",
		"INSERT INTO t SELECT seq, REPEAT('x', 100) FROM seq_1_to_5000")
	tests := []struct {
		name    string
		key     []KeyColumn
		size    int
		cancelN int // cancel after this many rows
	}{
		{"mid page", []KeyColumn{{Name: "id", Index: -1}}, 7, 10},
		{"at page boundary", []KeyColumn{{Name: "id", Index: -1}}, 7, 14},
		{"big page", []KeyColumn{{Name: "id", Index: -1}}, 4000, 100},
		{"keyless query", nil, 0, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(testContext(t))
			defer cancel()
			c := newCursor(t, Query{Table: "t", Columns: []string{"`pad`"}, Key: tt.key}, Options{PageSize: fixed(tt.size)})
			n := 0
			for c.Next(ctx, db) {
				if n++; n == tt.cancelN {
					cancel()
				}
			}
			if !errors.Is(c.Err(), context.Canceled) {
				t.Fatalf("Err() = %v after %d rows, want context.Canceled", c.Err(), n)
			}
			if n >= 5000 {
				t.Fatalf("read all %d rows despite the cancel", n)
			}
			if c.Next(ctx, db) {
				t.Fatal("Next after an error returned true")
			}
			// The pool still works.
			var one int
			if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCloseIdempotent(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t SELECT seq FROM seq_1_to_10")
	ctx := testContext(t)
	conn := getConn(t, ctx, db)
	c, err := New(Query{Table: "t", Columns: []string{"`id`"}, Key: []KeyColumn{{Name: "id", Index: 0}}}, Options{PageSize: fixed(5)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close before Next: %v", err)
	}
	c, _ = New(Query{Table: "t", Columns: []string{"`id`"}, Key: []KeyColumn{{Name: "id", Index: 0}}}, Options{PageSize: fixed(5)})
	for range 3 {
		if !c.Next(ctx, conn) {
			t.Fatalf("Next: %v", c.Err())
		}
	}
	for i := range 3 {
		if err := c.Close(); err != nil {
			t.Fatalf("close %d: %v", i+1, err)
		}
	}
	if c.Next(ctx, conn) || c.Err() != nil {
		t.Fatalf("Next after Close: true or error %v", c.Err())
	}
	// The page was closed: the connection takes another statement.
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 10 {
		t.Fatalf("conn after Close: %d, %v", n, err)
	}
}

// TestSnapshot reads on one *sql.Conn inside a consistent snapshot while
// another connection inserts, deletes and commits between the pages.
func TestSnapshot(t *testing.T) {
	db, dbName := setup(t, "CREATE TABLE t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
		"INSERT INTO t SELECT seq * 2, seq FROM seq_1_to_50") // ids 2, 4, ..., 100
	ctx := testContext(t)
	conn := getConn(t, ctx, db)
	for _, q := range []string{"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	q := Query{Table: "t", Columns: []string{"`id`"}, Key: []KeyColumn{{Name: "id", Index: 0}}}
	c := newCursor(t, q, Options{PageSize: fixed(10)})
	var got []string
	for len(got) < 15 && c.Next(ctx, conn) {
		got = append(got, string(c.Values()[0]))
	}
	// Another connection (autocommit) changes rows behind and ahead of the cursor.
	other := testdb.Get(t).Open(t, "")
	for _, stmt := range []string{
		"INSERT INTO `" + dbName + "`.t SELECT seq * 2 - 1, 0 FROM `" + dbName + "`.seq_1_to_55", // odd ids 1..109, between and after
		"DELETE FROM `" + dbName + "`.t WHERE id IN (40, 100)",
	} {
		if _, err := other.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	var committed int
	if err := other.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+dbName+"`.t").Scan(&committed); err != nil || committed != 103 {
		t.Fatalf("other connection sees %d rows (%v), want 103: the changes did not commit", committed, err)
	}
	for c.Next(ctx, conn) {
		got = append(got, string(c.Values()[0]))
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	var want []string
	for id := 2; id <= 100; id += 2 {
		want = append(want, strconv.Itoa(id))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("inside the snapshot got %v\nwant %v", got, want)
	}
	// After COMMIT the same connection sees the new rows.
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	after := collect(t, ctx, newCursor(t, q, Options{PageSize: fixed(10)}), conn)
	if len(after) != 103 {
		t.Fatalf("after COMMIT got %d rows, want 103", len(after))
	}
}

func TestQuotedIdentifiers(t *testing.T) {
	s := testdb.Get(t)
	name := s.CreateDB(t, "pg quoted")
	db := s.Open(t, "") // no current database: the cursor qualifies by Schema
	ctx := testContext(t)
	tbl := "we`ird tab le"
	for _, stmt := range []string{
		"CREATE TABLE `" + name + "`.`we``ird tab le` (`i``d x` INT NOT NULL, `k 2` VARCHAR(5) NOT NULL, `v a``l` INT, PRIMARY KEY (`i``d x`, `k 2`))",
		"INSERT INTO `" + name + "`.`we``ird tab le` SELECT seq DIV 3, CONCAT('k', seq % 3), seq FROM `" + name + "`.seq_1_to_30",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	key, err := FindKey(ctx, db, name, tbl)
	if err != nil {
		t.Fatal(err)
	}
	if want := []KeyColumn{{Name: "i`d x", Index: -1, Type: KeyNumber}, utf8Key("k 2")}; !slices.Equal(key, want) {
		t.Fatalf("FindKey = %+v, want %+v", key, want)
	}
	c := newCursor(t, Query{Schema: name, Table: tbl, Columns: []string{"`v a``l`"}, Key: key, Where: "`v a``l` > ?", Args: []any{0}},
		Options{PageSize: fixed(4)})
	if got := column(collect(t, ctx, c, db), 0); !slices.Equal(got, seq(1, 30)) {
		t.Fatalf("got %v", got)
	}
}

// TestKeysetUsesRange checks the claim in sql.go on this server: the next
// page's query is a range scan over the whole composite key and reads about
// one page of index entries, however deep the page.
func TestKeysetUsesRange(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (a INT NOT NULL, b VARCHAR(20) NOT NULL, c INT NOT NULL, v INT, PRIMARY KEY (a, b, c))",
		"INSERT INTO t SELECT seq DIV 100, CONCAT('k', (seq DIV 10) % 10), seq % 10, seq FROM seq_1_to_100000",
		"ANALYZE TABLE t")
	ctx := testContext(t)
	conn := getConn(t, ctx, db)
	key := []KeyColumn{{Name: "a", Index: -1}, {Name: "b", Index: -1, Type: KeyText}, {Name: "c", Index: -1}}
	b := build(Query{Table: "t", Columns: []string{"`v`"}, Key: key})
	args := []any{int64(700), int64(700), "k5", "k5", int64(5), int64(1000)}

	explainRange(t, ctx, conn, b.next, args, "90")
	n, readFirst, readNext := handlerReads(t, ctx, conn, b.next, args)
	if n != 1000 || readFirst != 0 || readNext > 1010 {
		t.Errorf("page of %d rows: Handler_read_first=%d Handler_read_next=%d, want 1000 rows from a range", n, readFirst, readNext)
	}
}

// explainRange checks that EXPLAIN shows query as a range scan on PRIMARY
// over keyLen bytes of the key.
func explainRange(t *testing.T, ctx context.Context, conn *sql.Conn, query string, args []any, keyLen string) {
	t.Helper()
	var id, selType, table, typ, possible, keyName, kl, ref, rows, extra sql.NullString
	if err := conn.QueryRowContext(ctx, "EXPLAIN "+query, args...).Scan(&id, &selType, &table, &typ, &possible, &keyName, &kl, &ref, &rows, &extra); err != nil {
		t.Fatal(err)
	}
	if typ.String != "range" || keyName.String != "PRIMARY" || kl.String != keyLen {
		t.Errorf("EXPLAIN: type=%s key=%s key_len=%s, want range on PRIMARY over the whole key (%s)", typ.String, keyName.String, kl.String, keyLen)
	}
}

// handlerReads runs query and returns its row count and the session's
// Handler_read_first and Handler_read_next for it.
func handlerReads(t *testing.T, ctx context.Context, conn *sql.Conn, query string, args []any) (n, readFirst, readNext int) {
	t.Helper()
	if _, err := conn.ExecContext(ctx, "FLUSH STATUS"); err != nil {
		t.Fatal(err)
	}
	r, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		n++
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	sr, err := conn.QueryContext(ctx, "SHOW SESSION STATUS WHERE Variable_name IN ('Handler_read_next', 'Handler_read_first')")
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	for sr.Next() {
		var name string
		var v int
		sr.Scan(&name, &v)
		if name == "Handler_read_next" {
			readNext = v
		} else {
			readFirst = v
		}
	}
	return n, readFirst, readNext
}
