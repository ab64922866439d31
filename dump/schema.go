package dump

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"lms-backup/paginate"
)

// table is one base table (or sequence) of the dumped database.
type table struct {
	Name     string
	Engine   string
	Sequence bool
	// NoRows marks a table whose rows live elsewhere (see RowsElsewhere):
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
	// Converted marks a definition read as utf8mb4 instead of in its
	// client's charset (see listObjects).
	Converted bool
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

// listObjects returns the views (in dependency order), routines (packages
// before their bodies), triggers and events of db.
//
// Definitions are read with character_set_results = binary: the bytes the
// server keeps, in the charset of the client that created the object
// (character_set_client), which the dump sets again before it recreates
// the object, as mariadb-dump does. Read as utf8mb4 instead, a latin1
// client's function would come back returning other bytes, its view with
// other column types. The exception are charsets whose multibyte
// characters can end in a quote or backslash byte (sjis, gbk, big5, ...):
// no SQL splitter that is not told the charset (the mariadb client's is
// not) can cut such text safely, so an object of such a client whose text
// has non-ASCII bytes is read and recreated as utf8mb4, with a warning.
func listObjects(ctx context.Context, conn *sql.Conn, db string) (routines, views, triggers, events []object, err error) {
	if _, err := conn.ExecContext(ctx, "SET SESSION character_set_results = binary"); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("read object definitions: %w", err)
	}
	routines, views, triggers, events, err = readObjects(ctx, conn, db)
	if _, rerr := conn.ExecContext(ctx, "SET SESSION character_set_results = utf8mb4"); rerr != nil && err == nil {
		err = fmt.Errorf("read object definitions: %w", rerr)
	}
	if err != nil {
		return nil, nil, nil, nil, err
	}
	deps, err := viewDependencies(ctx, conn, db, views)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return routines, sortViews(views, deps), triggers, events, nil
}

// readObjects reads the objects' definitions; see listObjects.
func readObjects(ctx context.Context, conn *sql.Conn, db string) (routines, views, triggers, events []object, err error) {
	type query struct {
		kind, list, createCol string
		into                  *[]object
	}
	routine := func(typ string) string {
		return `SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = '` + typ + `' ORDER BY ROUTINE_NAME`
	}
	own, err := ownNames(ctx, conn, db)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	queries := []query{
		{"FUNCTION", routine("FUNCTION"), "Create Function", &routines},
		{"PROCEDURE", routine("PROCEDURE"), "Create Procedure", &routines},
		// Oracle-mode packages: a body needs its package.
		{"PACKAGE", routine("PACKAGE"), "Create Package", &routines},
		{"PACKAGE BODY", routine("PACKAGE BODY"), "Create Package Body", &routines},
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
			show := "SHOW CREATE " + q.kind + " " + string(AppendIdent(nil, name))
			res, err := showCreate(ctx, conn, show)
			if err != nil {
				return nil, nil, nil, nil, fmt.Errorf("show create %s %s: %w", strings.ToLower(q.kind), name, err)
			}
			o := object{Kind: q.kind, Name: name, Create: res[q.createCol], SQLMode: res["sql_mode"],
				Charset: res["character_set_client"], Collate: res["collation_connection"], TZ: res["time_zone"]}
			if o.Create == "" {
				return nil, nil, nil, nil, fmt.Errorf("show create %s %s: the server shows no definition (the dump user needs SHOW VIEW, TRIGGER, EVENT and SELECT on mysql.proc)", strings.ToLower(q.kind), name)
			}
			if unsplittable(o.Charset) && !isASCII(o.Create) {
				if o, err = readAsUTF8(ctx, conn, o, show, q.createCol); err != nil {
					return nil, nil, nil, nil, err
				}
			}
			if q.kind == "VIEW" {
				o.Create = unqualifyView(o.Create, db, own, strings.Contains(o.SQLMode, "NO_BACKSLASH_ESCAPES"))
			}
			*q.into = append(*q.into, o)
		}
	}
	return routines, views, triggers, events, nil
}

// ownNames returns the names of db's tables, views, sequences and
// routines: what a view definition may qualify with db.
func ownNames(ctx context.Context, conn *sql.Conn, db string) (map[string]bool, error) {
	list, err := listNames(ctx, conn, `SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?
		UNION SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?`, db, db)
	if err != nil {
		return nil, fmt.Errorf("list the database's names: %w", err)
	}
	names := make(map[string]bool, len(list))
	for _, n := range list {
		names[n] = true
	}
	return names, nil
}

// readAsUTF8 reads an object's definition again as utf8mb4 text, to be
// recreated by a utf8mb4 client (see listObjects).
func readAsUTF8(ctx context.Context, conn *sql.Conn, o object, show, createCol string) (object, error) {
	if _, err := conn.ExecContext(ctx, "SET SESSION character_set_results = utf8mb4"); err != nil {
		return o, fmt.Errorf("read %s %s: %w", strings.ToLower(o.Kind), o.Name, err)
	}
	res, err := showCreate(ctx, conn, show)
	if err == nil {
		_, err = conn.ExecContext(ctx, "SET SESSION character_set_results = binary")
	}
	if err != nil {
		return o, fmt.Errorf("show create %s %s: %w", strings.ToLower(o.Kind), o.Name, err)
	}
	o.Create, o.Converted = res[createCol], true
	return o, nil
}

// unsplittable reports whether a client charset has multibyte characters
// whose later bytes can be ASCII quotes or backslashes.
func unsplittable(charset string) bool {
	switch strings.ToLower(charset) {
	case "big5", "cp932", "gbk", "sjis", "gb18030":
		return true
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// viewDependencies returns, per view, the indexes of the views its
// definition reads. It asks the server: information_schema.VIEWS holds the
// definition as the server resolved it, every table reference qualified
// with its database ("`db`.`v`"), where SHOW CREATE VIEW leaves the
// view's own database out and aliases look like table names. A reference
// is a quoted db, a dot and a quoted name that no dot precedes or follows
// (`db`.`t`.`col` is a column).
func viewDependencies(ctx context.Context, conn *sql.Conn, db string, views []object) ([][]int, error) {
	if len(views) < 2 {
		return make([][]int, len(views)), nil
	}
	rows, err := conn.QueryContext(ctx, `SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?`, db)
	if err != nil {
		return nil, fmt.Errorf("read view definitions: %w", err)
	}
	defer rows.Close()
	defs := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			return nil, fmt.Errorf("read view definitions: %w", err)
		}
		defs[name] = def
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read view definitions: %w", err)
	}
	return dependencies(views, defs, db), nil
}

// dependencies returns, per view, the indexes of the views that its
// resolved definition in defs (by view name) reads.
func dependencies(views []object, defs map[string]string, db string) [][]int {
	deps := make([][]int, len(views))
	index := make(map[string]int, len(views))
	names := make(map[string]bool, len(views))
	for i, v := range views {
		index[v.Name] = i
		names[v.Name] = true
	}
	for i, v := range views {
		for _, ref := range tableRefs(defs[v.Name], db, names) {
			if j := index[ref]; j != i && !slices.Contains(deps[i], j) {
				deps[i] = append(deps[i], j)
			}
		}
	}
	return deps
}

// sortViews orders views so that each comes after the views it reads
// (deps, from viewDependencies). Views cannot read each other in a cycle;
// should deps hold one anyway, the view on it with the fewest unplaced
// dependencies (then the first by name) is placed and the sort goes on.
func sortViews(views []object, deps [][]int) []object {
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
		if !progress {
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
