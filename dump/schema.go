package dump

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"

	"lms-backup/paginate"
)

// table is one base table (or sequence) of the dumped database.
type table struct {
	Name     string
	Engine   string
	Sequence bool
	// NoRows marks a table whose rows live elsewhere (see rowsElsewhere):
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

// object is a view, trigger, routine or event, ready to be written.
type object struct {
	Kind    string // "VIEW", "TRIGGER", "FUNCTION", "PROCEDURE", "EVENT"
	Name    string
	Create  string // the CREATE statement as the server shows it
	SQLMode string
	Charset string // character_set_client at creation
	Collate string // collation_connection at creation
	TZ      string // events only: time zone of the schedule
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
		t.NoRows = rowsElsewhere(t.Engine)
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

	rows, err = conn.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, IFNULL(CHARACTER_SET_NAME, ''), EXTRA
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?
		ORDER BY TABLE_NAME, ORDINAL_POSITION`, db)
	if err != nil {
		return nil, fmt.Errorf("list columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var tname, extra string
		var c Column
		if err := rows.Scan(&tname, &c.Name, &c.DataType, &c.Charset, &extra); err != nil {
			return nil, fmt.Errorf("list columns: %w", err)
		}
		t := byName[tname]
		if t == nil {
			continue // a view's column
		}
		c.DataType = strings.ToLower(c.DataType)
		c.Kind = kindOf(c.DataType, c.Charset)
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

// showCreate runs a SHOW CREATE statement and returns its single row by
// column name.
func showCreate(ctx context.Context, conn *sql.Conn, query string) (map[string]string, error) {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("no result")
	}
	vals := make([]sql.NullString, len(names))
	ptrs := make([]any, len(names))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(names))
	for i, n := range names {
		out[n] = vals[i].String
	}
	return out, rows.Err()
}

// listNames runs a query returning one name per row.
func listNames(ctx context.Context, conn *sql.Conn, query string, args ...any) ([]string, error) {
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// listObjects returns the views (in dependency order), routines, triggers
// and events of db.
func listObjects(ctx context.Context, conn *sql.Conn, db string) (routines, views, triggers, events []object, err error) {
	type query struct {
		kind, list, createCol string
		into                  *[]object
	}
	queries := []query{
		{"FUNCTION", `SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'FUNCTION' ORDER BY ROUTINE_NAME`, "Create Function", &routines},
		{"PROCEDURE", `SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'PROCEDURE' ORDER BY ROUTINE_NAME`, "Create Procedure", &routines},
		{"VIEW", `SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME`, "Create View", &views},
		{"TRIGGER", `SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER`, "SQL Original Statement", &triggers},
		{"EVENT", `SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME`, "Create Event", &events},
	}
	for _, q := range queries {
		names, err := listNames(ctx, conn, q.list, db)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("list %ss: %w", strings.ToLower(q.kind), err)
		}
		for _, name := range names {
			res, err := showCreate(ctx, conn, "SHOW CREATE "+q.kind+" "+string(AppendIdent(nil, name)))
			if err != nil {
				return nil, nil, nil, nil, fmt.Errorf("show create %s %s: %w", strings.ToLower(q.kind), name, err)
			}
			o := object{Kind: q.kind, Name: name, Create: res[q.createCol], SQLMode: res["sql_mode"],
				Charset: res["character_set_client"], Collate: res["collation_connection"], TZ: res["time_zone"]}
			if o.Create == "" {
				return nil, nil, nil, nil, fmt.Errorf("show create %s %s: the server shows no definition (the dump user needs SHOW VIEW, TRIGGER, EVENT and SELECT on mysql.proc)", strings.ToLower(q.kind), name)
			}
			*q.into = append(*q.into, o)
		}
	}
	return routines, sortViews(views), triggers, events, nil
}

// sortViews orders views so that each comes after the views its definition
// names. The server prints a view's text normalised: columns as
// `tbl`.`col` AS `alias`, tables after FROM/JOIN. So another view's quoted
// name counts as a dependency unless it follows "AS " or "." (an alias or
// a column of that name). That may still see a dependency that is not there
// but never misses one. Should a false dependency make a cycle, the view on
// the cycle with the fewest unplaced dependencies (then the first by name)
// is placed and the sort goes on.
func sortViews(views []object) []object {
	deps := make([][]int, len(views))
	for i, v := range views {
		for j, w := range views {
			if i != j && refersTo(v.Create, string(AppendIdent(nil, w.Name))) {
				deps[i] = append(deps[i], j)
			}
		}
	}
	done := make([]bool, len(views))
	out := make([]object, 0, len(views))
	for len(out) < len(views) {
		progress := false
		for i := range views {
			if done[i] {
				continue
			}
			ready := true
			for _, d := range deps[i] {
				ready = ready && done[d]
			}
			if ready {
				done[i] = true
				out = append(out, views[i])
				progress = true
			}
		}
		if !progress { // a cycle, only possible through a false dependency
			best, bestOpen := -1, 0
			for i := range views {
				if done[i] || !onCycle(i, deps, done) {
					continue // views merely waiting for a cycle wait on
				}
				open := 0
				for _, d := range deps[i] {
					if !done[d] {
						open++
					}
				}
				if best < 0 || open < bestOpen || (open == bestOpen && views[i].Name < views[best].Name) {
					best, bestOpen = i, open
				}
			}
			done[best] = true
			out = append(out, views[best])
		}
	}
	return out
}

// onCycle reports whether view i can reach itself through dependencies
// that are not placed yet.
func onCycle(i int, deps [][]int, done []bool) bool {
	seen := make([]bool, len(deps))
	stack := append([]int(nil), deps[i]...)
	for len(stack) > 0 {
		j := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if j == i {
			return true
		}
		if done[j] || seen[j] {
			continue
		}
		seen[j] = true
		stack = append(stack, deps[j]...)
	}
	return false
}

// refersTo reports whether a view definition names the quoted identifier
// id as a table: anywhere but right after "AS " or ".".
func refersTo(create, id string) bool {
	for off := 0; ; {
		i := strings.Index(create[off:], id)
		if i < 0 {
			return false
		}
		at := off + i
		before := strings.ToUpper(create[max(0, at-3):at])
		if !strings.HasSuffix(before, "AS ") && !strings.HasSuffix(before, ".") {
			return true
		}
		off = at + len(id)
	}
}

var definerClause = regexp.MustCompile("(?i)\\bDEFINER\\s*=\\s*(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|[^\\s@]+)(?:\\s*@\\s*(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|[^\\s]+))?\\s+")

// stripDefiner removes the DEFINER clause from the head of a CREATE
// statement, so that the object is owned by whoever restores it.
func stripDefiner(create string) string {
	loc := definerClause.FindStringIndex(create)
	if loc == nil || !strings.HasPrefix(strings.ToUpper(create), "CREATE") {
		return create
	}
	head := strings.ToUpper(create[:loc[0]])
	for _, kw := range []string{" VIEW ", " TRIGGER ", " FUNCTION ", " PROCEDURE ", " EVENT ", "(", "'"} {
		if strings.Contains(head, kw) {
			return create // the match is past the head: not the definer clause
		}
	}
	return create[:loc[0]] + create[loc[1]:]
}

// Object is a view, routine, trigger or event as the statements that
// recreate it: DROP ... IF EXISTS, the session settings it was created
// under, and its CREATE statement with its definer. A restore snapshots a
// database's objects this way to put them back should it fail half-way.
type Object struct {
	Kind string // "FUNCTION", "PROCEDURE", "VIEW", "TRIGGER" or "EVENT"
	Name string
	SQL  string
}

// Objects returns the routines, views (in dependency order), triggers and
// events of db, in the order a dump creates them. conn must be using db:
// SHOW CREATE names objects unqualified. Two calls return the same SQL for
// an object that did not change.
func Objects(ctx context.Context, conn *sql.Conn, db string) ([]Object, error) {
	routines, views, triggers, events, err := listObjects(ctx, conn, db)
	if err != nil {
		return nil, err
	}
	var out []Object
	for _, group := range [][]object{routines, views, triggers, events} {
		for _, o := range group {
			text := appendObject(nil, o, o.Create, func(string, ...any) {})
			out = append(out, Object{Kind: o.Kind, Name: o.Name, SQL: string(text)})
		}
	}
	return out, nil
}

// unqualifySequences drops the dumped database's name from the sequence
// calls in a CREATE TABLE: the server prints a DEFAULT NEXTVAL(s) as
// nextval(`db`.`s`) even when s is in the table's own database, which would
// tie the restored table to the source database's sequence. Calls to
// sequences of other databases keep their qualifier.
func unqualifySequences(create, db string) string {
	q := string(AppendIdent(nil, db)) + "."
	for _, fn := range []string{"nextval(", "lastval("} {
		create = strings.ReplaceAll(create, fn+q, fn)
	}
	return create
}

// periodColumns returns the ROW START and ROW END columns that a CREATE
// TABLE of a system-versioned table declares in its PERIOD FOR
// SYSTEM_TIME clause, and false when it declares none (the implicit
// columns, named row_start and row_end, are then used). The server prints
// the clause on a line of its own, so text inside a comment or a default
// cannot be taken for it.
func periodColumns(create string) (start, end string, ok bool) {
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

// rowsElsewhere reports whether a table of this engine shows rows that
// are not its own, or holds none: a MERGE table shows the rows of its
// underlying MyISAM tables (dumped with those tables; dumping them again
// would duplicate them), FEDERATED, CONNECT and SPIDER tables show another
// server's or a file's data, which is not this database's to back up, and
// BLACKHOLE keeps nothing. Only their definitions are dumped.
func rowsElsewhere(engine string) bool {
	switch strings.ToUpper(engine) {
	case "MRG_MYISAM", "MRG_MYISAM_PARTITION", "MERGE", "FEDERATED", "CONNECT", "SPIDER", "BLACKHOLE":
		return true
	}
	return false
}
