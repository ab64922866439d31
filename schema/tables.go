package schema

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"lms-backup/internal/sqlident"
)

// Table is one base table or sequence of a database as
// information_schema describes it.
type Table struct {
	Name     string
	Engine   string
	Sequence bool
	// NoRows marks a table whose rows live elsewhere (see RowsElsewhere):
	// a dump writes its definition, not its rows.
	NoRows bool
	// Versioned marks a system-versioned table.
	Versioned bool
	// Estimate is the server's estimate of the row count (TABLE_ROWS).
	Estimate int64
	// Columns are the columns an INSERT writes, in table order: generated
	// ones are left out.
	Columns []Column
	// Generated holds a versioned table's generated columns by name,
	// among them explicitly declared ROW START / ROW END columns (the
	// server lists those as STORED GENERATED; implicit ones it does not
	// list at all). It is nil for other tables.
	Generated map[string]Column
}

// Column is one column of a table as information_schema describes it.
type Column struct {
	Name     string
	DataType string // DATA_TYPE, lower case
	Charset  string // CHARACTER_SET_NAME, "" for non-text columns
	Type     string // COLUMN_TYPE, such as enum('a','b') or int(11) unsigned
}

var generatedExtra = regexp.MustCompile(`(?i)\b(VIRTUAL|STORED|PERSISTENT) GENERATED\b`)

// ListTables returns the base tables and sequences of db in name order,
// with their columns.
func ListTables(ctx context.Context, conn *sql.Conn, db string) ([]*Table, error) {
	rows, err := conn.QueryContext(ctx, `SELECT TABLE_NAME, TABLE_TYPE, IFNULL(ENGINE, ''), IFNULL(TABLE_ROWS, 0)
		FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW'
		ORDER BY TABLE_NAME`, db)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var tables []*Table
	byName := map[string]*Table{}
	for rows.Next() {
		t := &Table{}
		var typ string
		if err := rows.Scan(&t.Name, &typ, &t.Engine, &t.Estimate); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables: %w", err)
		}
		t.Sequence = typ == "SEQUENCE"
		t.NoRows = RowsElsewhere(t.Engine)
		t.Versioned = typ == "SYSTEM VERSIONED"
		tables = append(tables, t)
		byName[t.Name] = t
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}

	rows, err = conn.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, IFNULL(CHARACTER_SET_NAME, ''), EXTRA, COLUMN_TYPE
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?
		ORDER BY TABLE_NAME, ORDINAL_POSITION`, db)
	if err != nil {
		return nil, fmt.Errorf("list columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tname, extra string
		var c Column
		if err := rows.Scan(&tname, &c.Name, &c.DataType, &c.Charset, &extra, &c.Type); err != nil {
			return nil, fmt.Errorf("list columns: %w", err)
		}
		t := byName[tname]
		if t == nil {
			continue // a view's column
		}
		c.DataType = strings.ToLower(c.DataType)
		if generatedExtra.MatchString(extra) {
			// The server computes it; on a versioned table it may be a
			// period column, which a dump adds back with the history.
			if t.Versioned {
				if t.Generated == nil {
					t.Generated = map[string]Column{}
				}
				t.Generated[c.Name] = c
			}
			continue
		}
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list columns: %w", err)
	}
	return tables, nil
}

// UnqualifySequences drops the dumped database's name from the sequence
// calls in a CREATE TABLE: the server prints a DEFAULT NEXTVAL(s) as
// nextval(`db`.`s`) even when s is in the table's own database, which would
// tie the restored table to the source database's sequence. Calls to
// sequences of other databases keep their qualifier.
func UnqualifySequences(create, db string) string {
	q := string(sqlident.Append(nil, db)) + "."
	for _, fn := range []string{"nextval(", "lastval("} {
		create = strings.ReplaceAll(create, fn+q, fn)
	}
	return create
}

// PeriodColumns returns the ROW START and ROW END columns that a CREATE
// TABLE of a system-versioned table declares in its PERIOD FOR
// SYSTEM_TIME clause, and false when it declares none (the implicit
// columns, named row_start and row_end, are then used). The server prints
// the clause on a line of its own, so text inside a comment or a default
// cannot be taken for it.
func PeriodColumns(create string) (start, end string, ok bool) {
	const clause = "\n  PERIOD FOR SYSTEM_TIME ("
	i := strings.Index(create, clause)
	if i < 0 {
		return "", "", false
	}
	rest := create[i+len(clause):]
	start, rest, ok = cutIdent(rest)
	if !ok || !strings.HasPrefix(rest, ", ") {
		return "", "", false
	}
	end, rest, ok = cutIdent(rest[2:])
	if !ok || !strings.HasPrefix(rest, ")") {
		return "", "", false
	}
	return start, end, true
}

// cutIdent reads one backtick-quoted identifier from the start of s.
func cutIdent(s string) (name, rest string, ok bool) {
	if !strings.HasPrefix(s, "`") {
		return "", s, false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '`' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '`' {
			b.WriteByte('`')
			i++
			continue
		}
		return b.String(), s[i+1:], true
	}
	return "", s, false
}

// RowsElsewhere reports whether a table of this engine shows rows that
// are not its own, or holds none: a MERGE table shows the rows of its
// underlying MyISAM tables (dumped with those tables; dumping them again
// would duplicate them), FEDERATED, CONNECT and SPIDER tables show another
// server's or a file's data, which is not this database's to back up, and
// BLACKHOLE keeps nothing. Only their definitions are dumped.
func RowsElsewhere(engine string) bool {
	switch strings.ToUpper(engine) {
	case "MRG_MYISAM", "MRG_MYISAM_PARTITION", "MERGE", "FEDERATED", "CONNECT", "SPIDER", "BLACKHOLE":
		return true
	}
	return false
}
