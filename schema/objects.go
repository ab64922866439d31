package schema

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"lms-backup/internal/sqlident"
)

// Definition is a view, trigger, routine or event, ready to be written.
type Definition struct {
	Kind    string // "VIEW", "TRIGGER", "FUNCTION", "PROCEDURE", "EVENT"
	Name    string
	Create  string // the CREATE statement as the server shows it
	SQLMode string
	Charset string // character_set_client at creation
	Collate string // collation_connection at creation
	TZ      string // events only: time zone of the schedule
	// Converted marks a definition read as utf8mb4 instead of in its
	// client's charset (see ListObjects).
	Converted bool
}

// ShowCreate runs a SHOW CREATE statement and returns its single row by
// column name.
func ShowCreate(ctx context.Context, conn *sql.Conn, query string) (map[string]string, error) {
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

// ListObjects returns the views (in dependency order), routines (packages
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
func ListObjects(ctx context.Context, conn *sql.Conn, db string) (routines, views, triggers, events []Definition, err error) {
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

// readObjects reads the objects' definitions; see ListObjects.
func readObjects(ctx context.Context, conn *sql.Conn, db string) (routines, views, triggers, events []Definition, err error) {
	type query struct {
		kind, list, createCol string
		into                  *[]Definition
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
			show := "SHOW CREATE " + q.kind + " " + string(sqlident.Append(nil, name))
			res, err := ShowCreate(ctx, conn, show)
			if err != nil {
				return nil, nil, nil, nil, fmt.Errorf("show create %s %s: %w", strings.ToLower(q.kind), name, err)
			}
			o := Definition{Kind: q.kind, Name: name, Create: res[q.createCol], SQLMode: res["sql_mode"],
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
// recreated by a utf8mb4 client (see ListObjects).
func readAsUTF8(ctx context.Context, conn *sql.Conn, o Definition, show, createCol string) (Definition, error) {
	if _, err := conn.ExecContext(ctx, "SET SESSION character_set_results = utf8mb4"); err != nil {
		return o, fmt.Errorf("read %s %s: %w", strings.ToLower(o.Kind), o.Name, err)
	}
	res, err := ShowCreate(ctx, conn, show)
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

var definerClause = regexp.MustCompile("(?i)\\bDEFINER\\s*=\\s*(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|[^\\s@]+)(?:\\s*@\\s*(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|[^\\s]+))?\\s+")

// StripDefiner removes the DEFINER clause from the head of a CREATE
// statement, so that the object is owned by whoever restores it.
func StripDefiner(create string) string {
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
	routines, views, triggers, events, err := ListObjects(ctx, conn, db)
	if err != nil {
		return nil, err
	}
	var out []Object
	for _, group := range [][]Definition{routines, views, triggers, events} {
		for _, o := range group {
			text := AppendObject(nil, o, o.Create, func(string, ...any) {})
			out = append(out, Object{Kind: o.Kind, Name: o.Name, SQL: string(text)})
		}
	}
	return out, nil
}
