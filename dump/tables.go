package dump

import (
	"context"
	"database/sql"
	"strings"
	"sync/atomic"

	"lms-backup/paginate"
	"lms-backup/schema"
)

// table is one base table (or sequence) of the dumped database.
type table struct {
	Name     string
	Engine   string
	Sequence bool
	// NoRows marks a table whose rows live elsewhere (see schema.RowsElsewhere):
	// its definition is dumped, its rows are not.
	NoRows bool
	// Versioned marks a system-versioned table.
	Versioned bool
	// History is set (by dumpSchema) when every row version of a
	// versioned table is dumped: Columns then end with its ROW START and
	// ROW END columns, named by rowEnd's pair.
	History bool
	Columns []Column // the columns an INSERT writes: generated ones left out
	// generated holds a versioned table's generated columns, among them
	// explicitly declared ROW START / ROW END columns (the server lists
	// those as STORED GENERATED; implicit ones it does not list at all).
	generated map[string]Column
	rowEnd    string // the ROW END column when History is set
	// Estimate is the server's estimate of the row count (TABLE_ROWS).
	Estimate int64

	// Set by prepare before the table's chunks are read, then read-only.
	index  int                  // 1-based position among the tables, for progress
	key    []paginate.KeyColumn // the key its chunks and pages are cut along; nil: none
	exprs  []string             // SELECT expressions of Columns
	prefix []byte               // INSERT INTO `t` (`a`,`b`) VALUES

	rows         atomic.Int64 // rows dumped so far, by every chunk
	warnedPacket atomic.Bool  // the max_allowed_packet warning was given
}

// listTables returns the base tables and sequences of db in name order,
// with the columns to dump.
func listTables(ctx context.Context, conn *sql.Conn, db string) ([]*table, error) {
	list, err := schema.ListTables(ctx, conn, db)
	if err != nil {
		return nil, err
	}
	tables := make([]*table, len(list))
	for i, st := range list {
		t := &table{Name: st.Name, Engine: st.Engine, Sequence: st.Sequence, NoRows: st.NoRows, Versioned: st.Versioned, Estimate: st.Estimate}
		for _, c := range st.Columns {
			t.Columns = append(t.Columns, column(c))
		}
		if st.Generated != nil {
			t.generated = make(map[string]Column, len(st.Generated))
			for name, c := range st.Generated {
				t.generated[name] = column(c)
			}
		}
		tables[i] = t
	}
	return tables, nil
}

// column returns how the dump reads and writes a column.
func column(sc schema.Column) Column {
	c := Column{Name: sc.Name, DataType: sc.DataType, Charset: sc.Charset, Kind: kindOf(sc.DataType, sc.Charset)}
	if c.DataType == "enum" && hasEmptyMember(sc.Type) {
		// '' is then both a member and the text of the error value
		// (index 0): only the index tells them apart.
		c.Kind, c.Ordinal = KindNumber, true
	}
	return c
}

// hasEmptyMember reports whether an ENUM's COLUMN_TYPE, such as
// enum(”,'a','it”s'), lists the empty string as a member.
func hasEmptyMember(colType string) bool {
	rest, ok := strings.CutPrefix(colType, "enum(")
	for ok && strings.HasPrefix(rest, "'") {
		i := 1
		for i < len(rest) {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i += 2
					continue
				}
				break
			}
			i++
		}
		if i == 1 {
			return true
		}
		rest, ok = strings.CutPrefix(rest[min(i+1, len(rest)):], ",")
	}
	return false
}
