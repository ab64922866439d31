package paginate

import (
	"strings"
	"testing"
)

func TestBuildSQL(t *testing.T) {
	tests := []struct {
		name        string
		q           Query
		first, next string
		keyPos      []int
	}{
		{
			name:   "single key selected",
			q:      Query{Table: "t", Columns: []string{"`id`", "`v`"}, Key: []KeyColumn{{Name: "id", Index: 0}}},
			first:  "SELECT `id`, `v` FROM `t` ORDER BY `t`.`id` LIMIT ?",
			next:   "SELECT `id`, `v` FROM `t` WHERE (`t`.`id` > ?) ORDER BY `t`.`id` LIMIT ?",
			keyPos: []int{0},
		},
		{
			name: "two columns hidden with where",
			q: Query{Schema: "d b", Table: "t`x", Columns: []string{"CAST(`f` AS DOUBLE)"}, Where: "`f` > ? OR `g` = 1",
				Key: []KeyColumn{{Name: "a", Index: -1}, {Name: "b`c", Index: -1, Type: KeyText}}},
			first: "SELECT CAST(`f` AS DOUBLE), `d b`.`t``x`.`a`, `d b`.`t``x`.`b``c` FROM `d b`.`t``x` WHERE (`f` > ? OR `g` = 1) " +
				"ORDER BY `d b`.`t``x`.`a`, `d b`.`t``x`.`b``c` LIMIT ?",
			next: "SELECT CAST(`f` AS DOUBLE), `d b`.`t``x`.`a`, `d b`.`t``x`.`b``c` FROM `d b`.`t``x` " +
				"WHERE (`d b`.`t``x`.`a` > ? OR (`d b`.`t``x`.`a` = ? AND `d b`.`t``x`.`b``c` > ?)) AND (`f` > ? OR `g` = 1) " +
				"ORDER BY `d b`.`t``x`.`a`, `d b`.`t``x`.`b``c` LIMIT ?",
			keyPos: []int{1, 2},
		},
		{
			name: "three columns, ordinal hidden",
			q: Query{Table: "t", Columns: []string{"`a`", "`e`", "`c`"},
				Key: []KeyColumn{{Name: "a", Index: 0}, {Name: "e", Index: 1, Type: KeyOrdinal}, {Name: "c", Index: 2}}},
			first: "SELECT `a`, `e`, `c`, `t`.`e`+0 FROM `t` ORDER BY `t`.`a`, `t`.`e`, `t`.`c` LIMIT ?",
			next: "SELECT `a`, `e`, `c`, `t`.`e`+0 FROM `t` WHERE (`t`.`a` > ? OR (`t`.`a` = ? AND " +
				"(`t`.`e` > ? OR (`t`.`e` = ? AND `t`.`c` > ?)))) ORDER BY `t`.`a`, `t`.`e`, `t`.`c` LIMIT ?",
			keyPos: []int{0, 3, 2},
		},
		{
			name: "bounded range",
			q: Query{Table: "t", Columns: []string{"`v`"}, Key: []KeyColumn{{Name: "a", Index: -1}, {Name: "b", Index: -1, Type: KeyText}},
				After: [][]byte{[]byte("1"), []byte("x")}, Through: [][]byte{[]byte("9"), []byte("y")}},
			first: "SELECT `v`, `t`.`a`, `t`.`b` FROM `t` WHERE (`t`.`a` > ? OR (`t`.`a` = ? AND `t`.`b` > ?)) " +
				"AND (`t`.`a` < ? OR (`t`.`a` = ? AND `t`.`b` <= ?)) ORDER BY `t`.`a`, `t`.`b` LIMIT ?",
			next: "SELECT `v`, `t`.`a`, `t`.`b` FROM `t` WHERE (`t`.`a` > ? OR (`t`.`a` = ? AND `t`.`b` > ?)) " +
				"AND (`t`.`a` < ? OR (`t`.`a` = ? AND `t`.`b` <= ?)) ORDER BY `t`.`a`, `t`.`b` LIMIT ?",
			keyPos: []int{1, 2},
		},
		{
			name: "text keys with a collation, one hidden, one selected as bytes",
			q: Query{Table: "t", Columns: []string{"CAST(`k` AS BINARY)"}, After: [][]byte{[]byte("\xa1\x40"), []byte("x")},
				Key: []KeyColumn{{Name: "g", Index: -1, Type: KeyText, Charset: "gbk", Collation: "gbk_chinese_ci"},
					{Name: "k", Index: 0, Type: KeyText, Charset: "sjis", Collation: "sjis_bin"}}},
			first: "SELECT CAST(`k` AS BINARY), CAST(`t`.`g` AS BINARY) FROM `t` " +
				"WHERE (`t`.`g` > CONVERT(UNHEX(?) USING gbk) COLLATE gbk_chinese_ci OR (`t`.`g` = CONVERT(UNHEX(?) USING gbk) COLLATE gbk_chinese_ci " +
				"AND `t`.`k` > CONVERT(UNHEX(?) USING sjis) COLLATE sjis_bin)) ORDER BY `t`.`g`, `t`.`k` LIMIT ?",
			next: "SELECT CAST(`k` AS BINARY), CAST(`t`.`g` AS BINARY) FROM `t` " +
				"WHERE (`t`.`g` > CONVERT(UNHEX(?) USING gbk) COLLATE gbk_chinese_ci OR (`t`.`g` = CONVERT(UNHEX(?) USING gbk) COLLATE gbk_chinese_ci " +
				"AND `t`.`k` > CONVERT(UNHEX(?) USING sjis) COLLATE sjis_bin)) ORDER BY `t`.`g`, `t`.`k` LIMIT ?",
			keyPos: []int{1, 0},
		},
		{
			name:   "no key",
			q:      Query{Table: "t", Columns: []string{"*"}, Where: "x = ?"},
			first:  "SELECT * FROM `t` WHERE (x = ?)",
			keyPos: []int{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := build(tt.q)
			if b.first != tt.first {
				t.Errorf("first page:\n got %s\nwant %s", b.first, tt.first)
			}
			if b.next != tt.next {
				t.Errorf("next pages:\n got %s\nwant %s", b.next, tt.next)
			}
			if len(b.keyPos) != len(tt.keyPos) {
				t.Fatalf("keyPos %v, want %v", b.keyPos, tt.keyPos)
			}
			for i := range b.keyPos {
				if b.keyPos[i] != tt.keyPos[i] {
					t.Fatalf("keyPos %v, want %v", b.keyPos, tt.keyPos)
				}
			}
			// Placeholders: 2 per key column but the last, Where's, LIMIT.
			if tt.next != "" {
				want := 2*len(tt.q.Key) - 1 + strings.Count(tt.q.Where, "?") + 1
				if tt.q.Through != nil {
					want += 2*len(tt.q.Key) - 1
				}
				if got := strings.Count(b.next, "?"); got != want {
					t.Errorf("next has %d placeholders, want %d", got, want)
				}
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	cols := []string{"`a`", "`b`"}
	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"no table", Query{Columns: cols}, "no table"},
		{"no columns", Query{Table: "t"}, "selects no columns"},
		{"empty column", Query{Table: "t", Columns: []string{"`a`", ""}}, "column 1 is empty"},
		{"index too big", Query{Table: "t", Columns: cols, Key: []KeyColumn{{Name: "a", Index: 2}}}, "out of range"},
		{"index below -1", Query{Table: "t", Columns: cols, Key: []KeyColumn{{Name: "a", Index: -2}}}, "out of range"},
		{"unnamed key", Query{Table: "t", Columns: cols, Key: []KeyColumn{{Index: -1}}}, "no name"},
		{"bad type", Query{Table: "t", Columns: cols, Key: []KeyColumn{{Name: "a", Index: -1, Type: 9}}}, "unknown KeyType(9)"},
		{"duplicate key", Query{Table: "t", Columns: cols, Key: []KeyColumn{{Name: "a", Index: 0}, {Name: "A", Index: -1}}}, "listed twice"},
		{"short bound", Query{Table: "t", Columns: cols, Key: []KeyColumn{{Name: "a", Index: 0}}, After: [][]byte{}}, "After has 0 values"},
		{"bound without key", Query{Table: "t", Columns: cols, Through: [][]byte{[]byte("1")}}, "Through has 1 values"},
		{"collation without charset", Query{Table: "t", Columns: cols, Key: []KeyColumn{{Name: "a", Index: 0, Type: KeyText, Collation: "gbk_bin"}}}, "both or neither"},
		{"collation on a number", Query{Table: "t", Columns: cols, Key: []KeyColumn{{Name: "a", Index: 0, Charset: "gbk", Collation: "gbk_bin"}}}, "on a text key"},
		{"collation not a name", Query{Table: "t", Columns: cols, Key: []KeyColumn{{Name: "a", Index: 0, Type: KeyText, Charset: "gbk", Collation: "gbk_bin; DROP"}}}, "names only"},
		{"NULL bound", Query{Table: "t", Columns: cols, Key: []KeyColumn{{Name: "a", Index: 0}}, Through: [][]byte{nil}}, "is NULL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.q, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, %v; want error containing %q", c, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "paginate: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	if _, err := New(Query{Table: "t", Columns: cols, Key: []KeyColumn{{Name: "a", Index: 1}, {Name: "b", Index: -1}}}, Options{}); err != nil {
		t.Fatalf("valid query: %v", err)
	}
}
