package paginate

import (
	"strings"

	"lms-backup/internal/sqlident"
)

// The keyset condition is written in the expanded, nested form
//
//	(`a` > ? OR (`a` = ? AND (`b` > ? OR (`b` = ? AND `c` > ?))))
//
// and not as the row constructor (`a`,`b`,`c`) > (?,?,?). Measured with
// EXPLAIN and Handler_read_* on MariaDB 10.11.19, 100,000 rows, PRIMARY KEY
// (a INT, b VARCHAR(20)), position in the middle, LIMIT 1000:
//
//	(a,b) > (5000,'k5')                       type=index key_len=86: reads the index from its
//	                                          start (Handler_read_first=1, read_next=51004)
//	a > 5000 OR (a = 5000 AND b > 'k5')       type=range key_len=86 (whole key):
//	                                          read_key=2, read_next=999
//	a >= 5000 AND (a > 5000 OR b > 'k5')      type=range key_len=4 (first column only):
//	                                          read_next=1005, the rest of the a=5000 group
//
// With three INT columns the same: the row constructor scans the index from
// the start (read_next=51054), the nested form ranges over all 12 bytes of
// the key (read_next=999), the ">=" form over the first column only
// (read_next=1055). The ">=" form degrades when the first column has many
// duplicates, so the nested form it is; it also ranges on a secondary UNIQUE
// key (key_len=86, read_next=9999 for LIMIT 10000).
//
// ORDER BY and the condition name key columns qualified by the table, so that
// a SELECT alias equal to a key column's name (ORDER BY prefers aliases) does
// not change the order.

// built is the SQL New prepares once.
type built struct {
	table    string // quoted, possibly schema-qualified table
	first    string // first page, or the whole keyless query
	next     string // following pages; "" without a key
	count    string // COUNT(*) of the rows the cursor reads, with first's arguments but LIMIT
	selected int    // number of SELECT expressions, hidden ones included
	keyPos   []int  // per key column, its position among the SELECT expressions
}

func build(q Query) built {
	var b built
	tb := make([]byte, 0, len(q.Schema)+len(q.Table)+8)
	if q.Schema != "" {
		tb = sqlident.Append(tb, q.Schema)
		tb = append(tb, '.')
	}
	tb = sqlident.Append(tb, q.Table)
	b.table = string(tb)
	from := b.table
	if q.History {
		from += " FOR SYSTEM_TIME ALL"
	}

	// qualified appends the key column's qualified name.
	qualified := func(s []byte, k KeyColumn) []byte {
		s = append(s, b.table...)
		s = append(s, '.')
		return sqlident.Append(s, k.Name)
	}

	sel := []byte("SELECT ")
	sel = append(sel, strings.Join(q.Columns, ", ")...)
	b.selected = len(q.Columns)
	b.keyPos = make([]int, len(q.Key))
	for i, k := range q.Key {
		switch {
		case k.Type == KeyOrdinal:
			sel = append(sel, ", "...)
			sel = qualified(sel, k)
			sel = append(sel, "+0"...)
		case k.Index < 0 && k.Collation != "":
			sel = append(sel, ", CAST("...)
			sel = qualified(sel, k)
			sel = append(sel, " AS BINARY)"...)
		case k.Index < 0:
			sel = append(sel, ", "...)
			sel = qualified(sel, k)
		default:
			b.keyPos[i] = k.Index
			continue
		}
		b.keyPos[i] = b.selected
		b.selected++
	}
	count := []byte("SELECT COUNT(*) FROM ")
	count = append(count, from...)
	if len(q.Key) == 0 {
		// Without a key there is nothing to hide: the extra expressions
		// above were not added.
		sel = append(sel, " FROM "...)
		sel = append(sel, from...)
		var where []byte
		if q.Where != "" {
			where = append(where, '(')
			where = append(where, q.Where...)
			where = append(where, ')')
		}
		b.first = string(appendWhere(sel, nil, where, nil))
		b.count = string(appendWhere(count, nil, where, nil))
		return b
	}
	sel = append(sel, " FROM "...)
	sel = append(sel, from...)

	// The conditions every page has: the upper bound, then Where.
	var tail []byte
	if q.Through != nil {
		tail = appendCond(tail, q.Key, qualified, " < ", " <= ")
	}
	if q.Where != "" {
		if len(tail) > 0 {
			tail = append(tail, " AND "...)
		}
		tail = append(tail, '(')
		tail = append(tail, q.Where...)
		tail = append(tail, ')')
	}
	order := []byte(" ORDER BY ")
	for i, k := range q.Key {
		if i > 0 {
			order = append(order, ", "...)
		}
		order = qualified(order, k)
	}
	order = append(order, " LIMIT ?"...)

	// First page: no keyset condition, only the lower bound if any.
	var head []byte
	if q.After != nil {
		head = appendCond(head, q.Key, qualified, " > ", " > ")
	}
	b.first = string(appendWhere(sel, head, tail, order))
	b.count = string(appendWhere(count, head, tail, nil))
	b.next = string(appendWhere(sel, appendCond(nil, q.Key, qualified, " > ", " > "), tail, order))
	return b
}

// appendWhere returns sel WHERE head AND tail, then order; empty parts
// are left out.
func appendWhere(sel, head, tail, order []byte) []byte {
	s := append([]byte(nil), sel...)
	switch {
	case len(head) > 0 && len(tail) > 0:
		s = append(s, " WHERE "...)
		s = append(s, head...)
		s = append(s, " AND "...)
		s = append(s, tail...)
	case len(head) > 0:
		s = append(s, " WHERE "...)
		s = append(s, head...)
	case len(tail) > 0:
		s = append(s, " WHERE "...)
		s = append(s, tail...)
	}
	return append(s, order...)
}

// appendCond appends the nested condition comparing the key with one
// tuple of placeholders: op for every column but the last, lastOp for the
// last, e.g. with " < " and " <= "
//
//	(`a` < ? OR (`a` = ? AND (`b` < ? OR (`b` = ? AND `c` <= ?))))
//
// Its arguments come from appendCondArgs.
func appendCond(s []byte, key []KeyColumn, qualified func([]byte, KeyColumn) []byte, op, lastOp string) []byte {
	s = append(s, '(')
	open := 1
	for i, k := range key {
		s = qualified(s, k)
		if i == len(key)-1 {
			s = append(s, lastOp...)
			s = appendParam(s, k)
			break
		}
		s = append(s, op...)
		s = appendParam(s, k)
		s = append(s, " OR ("...)
		s = qualified(s, k)
		s = append(s, " = "...)
		s = appendParam(s, k)
		s = append(s, " AND "...)
		open++
		if i+2 < len(key) {
			s = append(s, '(')
			open++
		}
	}
	for ; open > 0; open-- {
		s = append(s, ')')
	}
	return s
}

// appendParam appends the placeholder of a value of key column k: for a
// text column with a collation its bytes in hex, turned back into a string
// of the column's charset and collation (see KeyText). Measured on MariaDB
// 10.11.19 with a gbk key: EXPLAIN type=range over the whole key, as with
// a plain literal; a constant expression does not stop the range scan.
func appendParam(s []byte, k KeyColumn) []byte {
	if k.Collation == "" {
		return append(s, '?')
	}
	s = append(s, "CONVERT(UNHEX(?) USING "...)
	s = append(s, k.Charset...)
	s = append(s, ") COLLATE "...)
	return append(s, k.Collation...)
}
