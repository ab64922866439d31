package paginate

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
)

// forEachRows reads c with ForEach on conn and returns its rows as strings.
func forEachRows(t *testing.T, ctx context.Context, c *Cursor, conn *sql.Conn) [][]string {
	t.Helper()
	var out [][]string
	err := c.ForEach(ctx, conn, func(vals []sql.RawBytes) error {
		row := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				row[i] = null
			} else {
				row[i] = string(v)
			}
		}
		out = append(out, row)
		return nil
	})
	if err != nil {
		t.Fatalf("ForEach: %v", err)
	}
	return out
}

// TestForEachMatchesNext reads a table of every value kind the driver
// decodes (signed and unsigned integers at their limits, floats, doubles,
// decimals, dates, NULL, empty strings and bytes) with ForEach and with
// Next, over several bounded pages and through a driver that does not
// interpolate (ForEach then falls back to Next): the rows are identical.
func TestForEachMatchesNext(t *testing.T) {
	db, name := setup(t, `CREATE TABLE t (id BIGINT PRIMARY KEY, u BIGINT UNSIGNED, i INT, ti TINYINT, f FLOAT, d DOUBLE,
		m DECIMAL(30,10), dt DATETIME(6), y YEAR, s VARCHAR(10), b VARBINARY(10), n INT NULL)`,
		`INSERT INTO t VALUES (-9223372036854775808, 18446744073709551615, -2147483648, -128, 3.40282e38, -1.7976931348623157e308,
		  -12345678901234567890.0123456789, '0000-00-00 00:00:00', 0, '', '', NULL)`,
		`INSERT INTO t SELECT seq, seq * 1000003, seq, seq % 100, seq / 7, seq / 3, seq / 9, '2024-02-29 23:59:59.999999' + INTERVAL seq SECOND,
		  1901 + seq % 200, CONCAT('s', seq), UNHEX(HEX(seq)), IF(seq % 3 = 0, NULL, seq) FROM seq_1_to_250`,
		`INSERT INTO t VALUES (9223372036854775807, 0, 2147483647, 127, 1.17549435e-38, 4.9e-324, 0, '9999-12-31 23:59:59', 2155, 'z', 0x00, 0)`)
	ctx := testContext(t)
	cols := []string{"`id`", "`u`", "`i`", "`ti`", "`f`", "`d`", "`m`", "`dt`", "`y`", "`s`", "`b`", "`n`"}
	q := Query{Table: "t", Columns: cols, Key: []KeyColumn{{Name: "id", Index: 0}},
		After: [][]byte{[]byte("-9223372036854775808")}, Through: [][]byte{[]byte("9223372036854775807")}}
	conn := getConn(t, ctx, db)
	want := collect(t, ctx, newCursor(t, Query{Table: "t", Columns: cols, Key: q.Key}, Options{PageSize: fixed(7)}), conn)
	if len(want) != 252 {
		t.Fatalf("Next read %d rows, want 252", len(want))
	}
	want = want[1:] // After excludes the smallest key
	c := newCursor(t, q, Options{PageSize: fixed(7)})
	if got := forEachRows(t, ctx, c, conn); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("ForEach and Next differ:\n got %q\nwant %q", got[:3], want[:3])
	}
	if c.Pages() != 36 || c.noRaw {
		t.Errorf("ForEach ran %d pages (raw: %v), want 36 through the driver", c.Pages(), !c.noRaw)
	}

	// Prepared statements send values in the binary protocol, which
	// database/sql formats in its own way: compare with Next on that too.
	plain := openNoInterpolate(t, name)
	pconn := getConn(t, ctx, plain)
	want = collect(t, ctx, newCursor(t, q, Options{PageSize: fixed(7)}), pconn)
	c = newCursor(t, q, Options{PageSize: fixed(7)})
	if got := forEachRows(t, ctx, c, pconn); !slices.EqualFunc(got, want, slices.Equal) || !c.noRaw {
		t.Fatalf("without interpolateParams: %d rows (fell back to Next: %v)", len(got), c.noRaw)
	}
}

// TestForEachStops: an error from fn ends the cursor and comes back as
// is; a key that does not advance is caught as with Next, and the
// connection stays usable after both; a cancelled context ends it with
// the context's error.
func TestForEachStops(t *testing.T) {
	db, _ := setup(t, "CREATE TABLE t (id INT PRIMARY KEY, f FLOAT NOT NULL)", "INSERT INTO t SELECT seq, seq / 10 FROM seq_1_to_100")
	ctx := testContext(t)
	conn := getConn(t, ctx, db)
	stop := errors.New("stop here")
	c := newCursor(t, Query{Table: "t", Columns: []string{"`id`"}, Key: []KeyColumn{{Name: "id", Index: 0}}}, Options{PageSize: fixed(30)})
	n := 0
	if err := c.ForEach(ctx, conn, func([]sql.RawBytes) error {
		if n++; n == 45 {
			return stop
		}
		return nil
	}); err != stop || n != 45 {
		t.Fatalf("ForEach = %v after %d rows, want the fn's error after 45", err, n)
	}
	if c.Next(ctx, conn) {
		t.Error("the cursor went on after fn's error")
	}

	// A FLOAT key's text does not compare equal to the stored value.
	c = newCursor(t, Query{Table: "t", Columns: []string{"`id`"}, Key: []KeyColumn{{Name: "f", Index: -1}}}, Options{PageSize: fixed(1)})
	if err := c.ForEach(ctx, conn, func([]sql.RawBytes) error { return nil }); !errors.Is(err, ErrOverlap) {
		t.Fatalf("FLOAT key: %v, want ErrOverlap", err)
	}
	var one int
	if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("the connection is not usable after ForEach: %v", err)
	}

	// Last: a cancel mid-read closes the connection, as with Next.
	cctx, cancel := context.WithCancel(ctx)
	c = newCursor(t, Query{Table: "t", Columns: []string{"`id`"}, Key: []KeyColumn{{Name: "id", Index: 0}}}, Options{PageSize: fixed(30)})
	err := c.ForEach(cctx, conn, func([]sql.RawBytes) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ForEach = %v", err)
	}

}
