package dump

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
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

var generatedExtra = regexp.MustCompile(`(?i)\b(VIRTUAL|STORED|PERSISTENT) GENERATED\b`)

// listTables returns the base tables and sequences of db in name order,
// with the columns to dump.
func listTables(ctx context.Context, conn *sql.Conn, db string) ([]*table, error) {
	rows, err := conn.QueryContext(ctx, `SELECT TABLE_NAME, TABLE_TYPE, IFNULL(ENGINE, ''), IFNULL(TABLE_ROWS, 0)
		FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW'
		ORDER BY TABLE_NAME`, db)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var tables []*table
	byName := map[string]*table{}
	for rows.Next() {
		t := &table{}
		var typ string
		if err := rows.Scan(&t.Name, &typ, &t.Engine, &t.Estimate); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables: %w", err)
		}
		t.Sequence = typ == "SEQUENCE"
		t.NoRows = schema.RowsElsewhere(t.Engine)
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
		var tname, extra, colType string
		var c Column
		if err := rows.Scan(&tname, &c.Name, &c.DataType, &c.Charset, &extra, &colType); err != nil {
			return nil, fmt.Errorf("list columns: %w", err)
		}
		t := byName[tname]
		if t == nil {
			continue // a view's column
		}
		c.DataType = strings.ToLower(c.DataType)
		c.Kind = kindOf(c.DataType, c.Charset)
		if c.DataType == "enum" && hasEmptyMember(colType) {
			// '' is then both a member and the text of the error value
			// (index 0): only the index tells them apart.
			c.Kind, c.Ordinal = KindNumber, true
		}
		if generatedExtra.MatchString(extra) {
			// The server computes it; on a versioned table it may be a
			// period column, which dumpSchema adds back with the history.
			if t.Versioned {
				if t.generated == nil {
					t.generated = map[string]Column{}
				}
				t.generated[c.Name] = c
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
