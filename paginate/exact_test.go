package paginate

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"testing"
)

// TestOrderProof feeds the proof key sequences by hand: it holds only for
// integer keys that strictly increase within the bounds, at every integer
// size, and fails at the first repeat, step back, bound crossing or value
// that is not an integer.
func TestOrderProof(t *testing.T) {
	num := func(name string) KeyColumn { return KeyColumn{Name: name, Type: KeyNumber} }
	b := func(vals ...string) [][]byte {
		out := make([][]byte, len(vals))
		for i, v := range vals {
			out[i] = []byte(v)
		}
		return out
	}
	tests := []struct {
		name           string
		key            []KeyColumn
		after, through [][]byte
		rows           [][]string
		want           bool
	}{
		{"increasing", []KeyColumn{num("id")}, nil, nil, [][]string{{"1"}, {"2"}, {"10"}}, true},
		{"no rows", []KeyColumn{num("id")}, nil, nil, nil, true},
		{"repeat", []KeyColumn{num("id")}, nil, nil, [][]string{{"1"}, {"2"}, {"2"}}, false},
		{"step back", []KeyColumn{num("id")}, nil, nil, [][]string{{"1"}, {"3"}, {"2"}}, false},
		{"text order is not number order", []KeyColumn{num("id")}, nil, nil, [][]string{{"9"}, {"10"}}, true},
		{"signed and unsigned limits", []KeyColumn{num("id")}, nil, nil,
			[][]string{{"-9223372036854775808"}, {"-1"}, {"0"}, {"9223372036854775807"}, {"9223372036854775808"}, {"18446744073709551615"}}, true},
		{"big unsigned below int64", []KeyColumn{num("id")}, nil, nil, [][]string{{"18446744073709551615"}, {"5"}}, false},
		{"within bounds", []KeyColumn{num("id")}, b("10"), b("20"), [][]string{{"11"}, {"20"}}, true},
		{"at the lower bound", []KeyColumn{num("id")}, b("10"), b("20"), [][]string{{"10"}, {"11"}}, false},
		{"past the upper bound", []KeyColumn{num("id")}, b("10"), b("20"), [][]string{{"11"}, {"21"}}, false},
		{"decimal value", []KeyColumn{num("m")}, nil, nil, [][]string{{"1.5"}, {"2.5"}}, false},
		{"date value", []KeyColumn{num("d")}, nil, nil, [][]string{{"2024-01-01"}}, false},
		{"decimal bound", []KeyColumn{num("m")}, b("1.5"), nil, [][]string{{"2"}}, false},
		{"text key", []KeyColumn{{Name: "s", Type: KeyText}}, nil, nil, [][]string{{"1"}, {"2"}}, false},
		{"binary key", []KeyColumn{{Name: "s", Type: KeyBinary}}, nil, nil, [][]string{{"1"}, {"2"}}, false},
		{"ordinal key", []KeyColumn{{Name: "e", Type: KeyOrdinal}}, nil, nil, [][]string{{"1"}, {"2"}}, false},
		{"composite", []KeyColumn{num("a"), num("b")}, b("1", "5"), b("3", "0"),
			[][]string{{"1", "6"}, {"2", "-1"}, {"2", "0"}, {"3", "0"}}, true},
		{"composite repeat", []KeyColumn{num("a"), num("b")}, nil, nil, [][]string{{"1", "6"}, {"1", "6"}}, false},
		{"composite second column back", []KeyColumn{num("a"), num("b")}, nil, nil, [][]string{{"1", "6"}, {"1", "5"}}, false},
		{"composite with text", []KeyColumn{num("a"), {Name: "s", Type: KeyText}}, nil, nil, [][]string{{"1", "6"}}, false},
	}
	for _, tc := range tests {
		// As paginate's Next hands rows over (text only), and as ForEach
		// does (the driver's decoded integers beside the text).
		for _, decoded := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/decoded=%v", tc.name, decoded), func(t *testing.T) {
				o := newOrder(Query{Key: tc.key, After: tc.after, Through: tc.through})
				key := make([]keyState, len(tc.key))
				for i := range key {
					key[i] = keyState{KeyColumn: tc.key[i], pos: i}
				}
				for _, r := range tc.rows {
					vals := make([]sql.RawBytes, len(r))
					var dv []driver.Value
					if decoded {
						dv = make([]driver.Value, len(r))
					}
					for i, v := range r {
						vals[i] = sql.RawBytes(v)
						if !decoded {
							continue
						}
						if n, err := strconv.ParseInt(v, 10, 64); err == nil {
							dv[i] = n
						} else if u, err := strconv.ParseUint(v, 10, 64); err == nil {
							dv[i] = u
						} else {
							dv[i] = []byte(v)
						}
					}
					o.row(vals, dv, key)
				}
				if o.holds != tc.want {
					t.Fatalf("proof holds = %v, want %v", o.holds, tc.want)
				}
			})
		}
	}
}

// TestExact reads real tables on the server through both reading paths
// (ForEach and Next) and checks when a cursor claims an exact read: for
// integer keys read to the end, never for other keys, for a keyless table,
// for a cursor stopped early or for one whose query failed.
func TestExact(t *testing.T) {
	db, _ := setup(t,
		`CREATE TABLE ints (id BIGINT UNSIGNED PRIMARY KEY, v INT)`,
		`INSERT INTO ints SELECT seq, seq FROM seq_1_to_100`,
		`INSERT INTO ints VALUES (18446744073709551615, 0)`,
		`CREATE TABLE pair (a INT, b SMALLINT, PRIMARY KEY (a, b))`,
		`INSERT INTO pair SELECT seq % 7, seq FROM seq_1_to_60`,
		`CREATE TABLE dec_key (m DECIMAL(10,2) PRIMARY KEY)`,
		`INSERT INTO dec_key SELECT seq / 4 FROM seq_1_to_40`,
		`CREATE TABLE words (w VARCHAR(10) PRIMARY KEY)`,
		`INSERT INTO words SELECT CONCAT('w', seq) FROM seq_1_to_40`,
		`CREATE TABLE heap (v INT)`,
		`INSERT INTO heap SELECT seq FROM seq_1_to_40`)
	ctx := testContext(t)
	conn := getConn(t, ctx, db)
	intKey := func(name string) []KeyColumn { return []KeyColumn{{Name: name, Index: 0, Type: KeyNumber}} }
	tests := []struct {
		name string
		q    Query
		want bool
	}{
		{"integer key", Query{Table: "ints", Columns: []string{"`id`", "`v`"}, Key: intKey("id")}, true},
		{"integer key in bounds", Query{Table: "ints", Columns: []string{"`id`", "`v`"}, Key: intKey("id"),
			After: [][]byte{[]byte("10")}, Through: [][]byte{[]byte("18446744073709551615")}}, true},
		{"hidden integer key", Query{Table: "ints", Columns: []string{"`v`"}, Key: []KeyColumn{{Name: "id", Index: -1}}}, true},
		{"composite integer key", Query{Table: "pair", Columns: []string{"`a`", "`b`"},
			Key: []KeyColumn{{Name: "a", Index: 0}, {Name: "b", Index: 1}}}, true},
		{"decimal key", Query{Table: "dec_key", Columns: []string{"`m`"}, Key: intKey("m")}, false},
		{"text key", Query{Table: "words", Columns: []string{"`w`"}, Key: []KeyColumn{utf8Key("w")}}, false},
		{"no key", Query{Table: "heap", Columns: []string{"`v`"}}, false},
	}
	for _, tc := range tests {
		for _, path := range []string{"ForEach", "Next"} {
			t.Run(tc.name+"/"+path, func(t *testing.T) {
				c := newCursor(t, tc.q, Options{PageSize: fixed(7)})
				if path == "ForEach" {
					forEachRows(t, ctx, c, conn)
				} else {
					collect(t, ctx, c, conn)
				}
				if c.Pages() < 2 && len(tc.q.Key) > 0 {
					t.Fatalf("read in %d pages: the test needs several", c.Pages())
				}
				if got := c.Exact(); got != tc.want {
					t.Fatalf("Exact() = %v, want %v", got, tc.want)
				}
			})
		}
	}

	t.Run("stopped early", func(t *testing.T) {
		c := newCursor(t, tests[0].q, Options{PageSize: fixed(7)})
		stop := errors.New("stop")
		n := 0
		err := c.ForEach(ctx, conn, func([]sql.RawBytes) error {
			if n++; n == 20 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || c.Exact() {
			t.Fatalf("ForEach = %v, Exact() = %v: want the stop and no exact read", err, c.Exact())
		}
	})
	t.Run("failed query", func(t *testing.T) {
		c := newCursor(t, Query{Table: "ints", Columns: []string{"`id`", "no_such_column"}, Key: intKey("id")}, Options{PageSize: fixed(7)})
		if err := c.ForEach(ctx, conn, func([]sql.RawBytes) error { return nil }); err == nil || c.Exact() {
			t.Fatalf("ForEach = %v, Exact() = %v: want an error and no exact read", err, c.Exact())
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		c := newCursor(t, tests[0].q, Options{PageSize: fixed(7)})
		n := 0
		err := c.ForEach(cctx, conn, func([]sql.RawBytes) error {
			if n++; n == 10 {
				cancel()
			}
			return nil
		})
		if err == nil || c.Exact() {
			t.Fatalf("ForEach = %v, Exact() = %v: want an error and no exact read", err, c.Exact())
		}
	})
}
