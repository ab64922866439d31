// Package paginate reads a MySQL/MariaDB table page by page with keyset
// cursors: each page is "SELECT ... WHERE <key after the last row> ORDER BY
// <key> LIMIT n", never OFFSET, so every page costs the same however deep it is.
//
// The package knows nothing about what the rows are for. The caller chooses
// the SQL of the selected columns, the unique key to page by (FindKey finds
// one) and the page size, which a function it passes is asked for before every
// page. A table without a usable key is read in one streamed query instead.
//
// A cursor can be bounded to a key range (Query.After, Query.Through), and
// Boundary cuts a table into ranges of a given row count, so that several
// connections can read one table in chunks. ForEach reads the rows through
// the driver itself, for callers to whom database/sql's cost per row
// matters.
//
// Consistency across pages is the caller's business: pass the same *sql.Conn
// or *sql.Tx inside a REPEATABLE READ snapshot transaction to every Next and
// the cursor reads one snapshot; with a *sql.DB each page may run on another
// connection and sees whatever is committed at that moment.
package paginate

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"lms-backup/internal/sqlident"
)

// Querier runs a query. It is satisfied by *sql.DB, *sql.Conn and *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

var (
	_ Querier = (*sql.DB)(nil)
	_ Querier = (*sql.Conn)(nil)
	_ Querier = (*sql.Tx)(nil)
)

// DefaultPageSize is the page size when Options.PageSize is nil.
const DefaultPageSize = 1000

// Errors reported by Cursor.Err, wrapped with the table and page.
var (
	// ErrNullKey means the last row of a page had NULL in a key column, so
	// the next page cannot be positioned after it.
	ErrNullKey = errors.New("paginate: NULL in a key column: page by a NOT NULL unique key")
	// ErrNoProgress means a full page ended on the same key as the page
	// before it: the key is not unique or its KeyType does not match the
	// column, and reading on would loop forever.
	ErrNoProgress = errors.New("paginate: key did not advance between pages: check that the key is unique and its KeyType matches the column")
	// ErrOverlap means a page began with the row that ended the page
	// before it: the key's value did not reach the server exactly (a text
	// key without its Collation in a charset the connection cannot
	// represent), so the rows read so far may hold others twice.
	ErrOverlap = errors.New("paginate: a page began with the last row of the page before: the key was not passed back exactly")
)

// KeyType says how the cursor hands a key value of the last row back to the
// server in the next page's condition. The text of a value as the server sent
// it is compared again by the server, so each type must compare the way the
// index orders.
type KeyType uint8

const (
	// KeyNumber is for integers, DECIMAL and temporal columns (DATE,
	// DATETIME, TIMESTAMP, TIME, YEAR). A value whose text parses as an
	// int64 or uint64 is passed as that integer; anything else is passed as
	// its text in a Go string, which the server converts to the column's
	// type (exact for DECIMAL and temporal text). Not for FLOAT/DOUBLE: their
	// text is rounded and does not compare equal to the stored value.
	// Temporal values must arrive as the server's text (the driver's
	// default parseTime=false). TIMESTAMP keys are exact only when the
	// session time_zone has no DST (for example '+00:00'): a repeated local
	// hour maps back to one instant.
	KeyNumber KeyType = iota
	// KeyText is for CHAR, VARCHAR and TEXT columns (and types the server
	// parses from text, such as UUID and INET6).
	//
	// With KeyColumn.Collation set (FindKey sets it for every column with a
	// charset) the value is the bytes the column holds, read as
	// CAST(col AS BINARY) so that no conversion to the connection's
	// charset touches them, and passed back as
	// CONVERT(UNHEX(?) USING charset) COLLATE collation with the bytes in
	// hex: the server compares the exact value under the column's own
	// collation, the one the index is ordered by, and still ranges over
	// the index. A gbk, big5 or sjis character with no Unicode mapping
	// read as utf8mb4 text would become '?' and position the next page
	// elsewhere (measured: rows read twice, cursors looping).
	//
	// Without a Collation the value is passed as a Go string, so with
	// interpolateParams the driver writes a plain '...' literal, which the
	// server converts to the column's charset and compares under its
	// collation: exact only when the connection's charset holds every
	// value (UUID, INET6, utf8mb4 text on a utf8mb4 connection). Never a
	// []byte: the driver writes those as _binary'...', which compares
	// bytewise and breaks the order under case- or accent-insensitive
	// collations.
	KeyText
	// KeyBinary is for BINARY, VARBINARY and BLOB columns. The value is passed
	// as a []byte, written by the driver as _binary'...' and compared
	// bytewise, which is how a binary column's index is ordered.
	KeyBinary
	// KeyOrdinal is for ENUM, SET and BIT columns, whose index is ordered by
	// the member number or bit value, not by the text the server sends (an
	// ENUM compared with a string literal compares the labels as strings:
	// measured, rows come back twice). The cursor selects `col`+0 as a
	// hidden column and passes that number. Index is ignored for reading the
	// key. ENUM and SET comparisons with a number do not give a range scan
	// (EXPLAIN type=index: each page scans the index from its start), so an
	// ENUM key is correct but slow on big tables; BIT gets a range.
	KeyOrdinal
	keyTypes // number of key types; keep last
)

// String returns the constant's name without the Key prefix.
func (t KeyType) String() string {
	switch t {
	case KeyNumber:
		return "number"
	case KeyText:
		return "text"
	case KeyBinary:
		return "binary"
	case KeyOrdinal:
		return "ordinal"
	}
	return "KeyType(" + strconv.Itoa(int(t)) + ")"
}

// KeyColumn is one column of the unique key a Cursor pages by.
type KeyColumn struct {
	// Name is the column name, unquoted; the package quotes it with
	// backticks, doubling backticks inside it.
	Name string
	// Index is the position in Query.Columns of an expression that yields
	// this column's value unchanged (such as "`id`"), so that the cursor
	// reads the last row's key without selecting it twice. -1 means the
	// cursor appends the column to the SELECT list itself and hides it from
	// Values. Note that 0 is a real index: set -1 explicitly.
	Index int
	// Type says how the value is passed back to the server.
	Type KeyType
	// Charset and Collation are a KeyText column's CHARACTER_SET_NAME and
	// COLLATION_NAME, both or neither (see KeyText). With them, Index must
	// point to an expression that yields the bytes the column holds, such
	// as "CAST(`k` AS BINARY)" (or the column itself when the connection's
	// charset is the column's), or be -1: the cursor then selects
	// CAST(col AS BINARY) itself.
	Charset, Collation string
}

// Query describes what to read. Every string is SQL inserted as is, except
// Table, Schema and KeyColumn.Name, which the package quotes. Columns and
// Where must not contain placeholders other than Where's, which bind to Args.
type Query struct {
	// Table is the table name, unquoted.
	Table string
	// Schema is the database name, unquoted; empty means the connection's
	// current database.
	Schema string
	// Columns are the SELECT expressions, valid SQL (the caller quotes
	// identifiers), for example "`id`" or "CAST(`f` AS DOUBLE)".
	Columns []string
	// Key is the unique key to page by, in index order. Empty means no key:
	// the table is read in one streamed query without ORDER BY or LIMIT.
	Key []KeyColumn
	// Where is an optional extra condition, ANDed with the keyset condition.
	Where string
	// Args are the values for Where's placeholders.
	Args []any
	// After and Through bound the key range read: rows whose key is after
	// After and not after Through, compared as tuples in index order (the
	// nested form of build), so that chunks (After_i, Through_i] with
	// Through_i = After_i+1 cover a table with every row exactly once.
	// nil means unbounded. Each holds one value per key column, as the
	// server sends it in a row (for KeyOrdinal the number, as Boundary
	// returns it), and is passed back like a last row's key. They need a Key.
	After, Through [][]byte
	// History reads every row version of a system-versioned table
	// (FROM t FOR SYSTEM_TIME ALL) instead of its current rows. The key
	// must then be unique across versions: the table's unique key plus its
	// ROW END column, as the server's own index is.
	History bool
}

// Options tunes a Cursor. The zero value is valid.
type Options struct {
	// PageSize is called before each page and returns its row count.
	// nil means DefaultPageSize; results below 1 are treated as 1.
	PageSize func() int
	// Log receives the notice that a keyless table is read in one query
	// (once per Cursor, at Info). nil discards it.
	Log *slog.Logger
}

// Cursor iterates over the rows of a Query, fetching one page at a time.
// At most one page's *sql.Rows is open at any time, from the Next that
// fetched it until the Next that returns false or Close: on a *sql.Conn or
// *sql.Tx run no other statement on the connection meanwhile. The cursor
// itself allocates nothing per row (only per page), and Values lends the
// driver's buffers rather than copying them.
//
// A Cursor is not safe for concurrent use.
type Cursor struct {
	name  string // quoted table, for errors and logs
	first string // SQL of the first page (or the only query without a key)
	next  string // SQL of the following pages; "" without a key
	args  []any  // copy of Query.Args
	lower []any  // arguments of the After condition of the first page
	upper []any  // arguments of the Through condition of every page
	key   []keyState
	cols  int // len(Query.Columns): Values hides what follows

	pageSize func() int
	log      *slog.Logger

	vals   []sql.RawBytes // scan destination, reused for every row
	dest   []any          // pointers into vals
	qargs  []any          // arguments of the next page's query, reused
	rows   *sql.Rows
	limit  int // LIMIT of the open page
	n      int // rows read from the open page
	pages  int
	logged bool
	done   bool
	err    error

	// ForEach's state: the driver's values of a row, buffers for the
	// numbers among them, the query's arguments for the driver.
	dv    []driver.Value
	num   [][]byte
	named []driver.NamedValue
	noRaw bool // the driver cannot run queries with arguments itself

	order order // the proof behind Exact
}

// keyState is a key column and the copy of its value in the last row of the
// last full page.
type keyState struct {
	KeyColumn
	pos int    // position of the value in vals
	buf []byte // value in the last row of the last full page; never nil
}

// New validates q and builds its SQL once. It does no I/O. It keeps a copy
// of q.Args (the slice, not the values it points to).
func New(q Query, o Options) (*Cursor, error) {
	if err := validate(q); err != nil {
		return nil, err
	}
	b := build(q)
	c := &Cursor{
		name:     b.table,
		first:    b.first,
		next:     b.next,
		args:     slices.Clone(q.Args),
		cols:     len(q.Columns),
		pageSize: o.PageSize,
		log:      o.Log,
		vals:     make([]sql.RawBytes, b.selected),
		key:      make([]keyState, len(q.Key)),
		order:    newOrder(q),
	}
	if c.pageSize == nil {
		c.pageSize = func() int { return DefaultPageSize }
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.dest = make([]any, len(c.vals))
	for i := range c.vals {
		c.dest[i] = &c.vals[i]
	}
	for i, k := range q.Key {
		c.key[i] = keyState{KeyColumn: k, pos: b.keyPos[i], buf: make([]byte, 0, 16)}
	}
	c.lower = boundArgs(q.Key, q.After)
	c.upper = boundArgs(q.Key, q.Through)
	c.qargs = make([]any, 0, 2*len(q.Key)+len(c.upper)+len(q.Args)+1)
	return c, nil
}

func validate(q Query) error {
	if q.Table == "" {
		return errors.New("paginate: query has no table")
	}
	if len(q.Columns) == 0 {
		return fmt.Errorf("paginate: query on %s selects no columns", q.Table)
	}
	for i, col := range q.Columns {
		if col == "" {
			return fmt.Errorf("paginate: query on %s: column %d is empty", q.Table, i)
		}
	}
	for i, k := range q.Key {
		if k.Name == "" {
			return fmt.Errorf("paginate: query on %s: key column %d has no name", q.Table, i)
		}
		if k.Index < -1 || k.Index >= len(q.Columns) {
			return fmt.Errorf("paginate: query on %s: key column %s: index %d out of range [-1, %d)", q.Table, k.Name, k.Index, len(q.Columns))
		}
		if k.Type >= keyTypes {
			return fmt.Errorf("paginate: query on %s: key column %s: unknown %v", q.Table, k.Name, k.Type)
		}
		if (k.Charset == "") != (k.Collation == "") || (k.Collation != "" && k.Type != KeyText) ||
			!isName(k.Charset) || !isName(k.Collation) {
			return fmt.Errorf("paginate: query on %s: key column %s: charset %q and collation %q: want both or neither, names only, on a text key",
				q.Table, k.Name, k.Charset, k.Collation)
		}
		for _, o := range q.Key[:i] {
			if strings.EqualFold(o.Name, k.Name) { // column names ignore case
				return fmt.Errorf("paginate: query on %s: key column %s listed twice", q.Table, k.Name)
			}
		}
	}
	for _, b := range []struct {
		name string
		vals [][]byte
	}{{"After", q.After}, {"Through", q.Through}} {
		if b.vals == nil {
			continue
		}
		if len(b.vals) != len(q.Key) {
			return fmt.Errorf("paginate: query on %s: %s has %d values for a key of %d columns", q.Table, b.name, len(b.vals), len(q.Key))
		}
		for j, v := range b.vals {
			if v == nil {
				return fmt.Errorf("paginate: query on %s: %s value %d is NULL", q.Table, b.name, j)
			}
		}
	}
	return nil
}

// isName reports whether s is empty or a charset or collation name: ASCII
// letters, digits and underscores, written into the SQL as they are.
func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// boundArgs converts a bound's values for the driver, in the order the
// nested condition takes them; nil for no bound.
func boundArgs(key []KeyColumn, vals [][]byte) []any {
	if vals == nil {
		return nil
	}
	ks := make([]keyState, len(key))
	for i := range key {
		ks[i] = keyState{KeyColumn: key[i], buf: slices.Clone(vals[i])}
	}
	return appendCondArgs(nil, ks)
}

// Next advances to the next row and reports whether there is one. When the
// current page is exhausted it fetches the next one: the first page has no
// keyset condition, and a page shorter than its LIMIT ends the cursor without
// another query. Next returns false at the end, on error (see Err) and after
// Close. ctx bounds the queries and the reading of their rows; cancelling it
// is the way to abort a long keyless query quickly.
func (c *Cursor) Next(ctx context.Context, db Querier) bool {
	for {
		if c.done || c.err != nil {
			return false
		}
		// database/sql notices a cancelled context only when its watcher
		// closes the rows; until then Next keeps returning rows the driver
		// already has. Checking here makes a cancel stop at the next row.
		if err := ctx.Err(); err != nil {
			c.fail(ctx, "read", c.pages, err)
			return false
		}
		if c.rows == nil {
			if !c.query(ctx, db) {
				return false
			}
		}
		if c.rows.Next() {
			if err := c.rows.Scan(c.dest...); err != nil {
				c.fail(ctx, "read", c.pages, err)
				return false
			}
			c.n++
			if err := c.checkKey(nil); err != nil {
				c.fail(ctx, "read", c.pages, err)
				return false
			}
			return true
		}
		err := c.rows.Err()
		if cerr := c.rows.Close(); err == nil {
			err = cerr
		}
		c.rows = nil
		if err != nil {
			c.fail(ctx, "read", c.pages, err)
			return false
		}
		if c.next == "" || c.n < c.limit {
			c.done = true
			c.order.ended = true
			return false
		}
	}
}

// query opens the next page.
func (c *Cursor) query(ctx context.Context, db Querier) bool {
	query := c.page(ctx)
	rows, err := db.QueryContext(ctx, query, c.qargs...)
	clear(c.qargs) // drop references to key strings and the caller's Args
	if err != nil {
		c.fail(ctx, "query", c.pages+1, err)
		return false
	}
	c.rows = rows
	c.n = 0
	c.pages++
	return true
}

// page returns the SQL of the next page, with its arguments in c.qargs,
// and asks for its size. The caller clears c.qargs after the query.
func (c *Cursor) page(ctx context.Context) string {
	query := c.first
	c.qargs = c.qargs[:0]
	if c.next == "" {
		if !c.logged {
			c.logged = true
			c.log.InfoContext(ctx, "table has no primary or unique NOT NULL key: reading it in one streamed query", "table", c.name)
		}
	} else {
		if c.pages > 0 {
			query = c.next
			c.qargs = appendCondArgs(c.qargs, c.key)
		} else {
			c.qargs = append(c.qargs, c.lower...)
		}
		c.qargs = append(c.qargs, c.upper...)
		c.limit = max(c.pageSize(), 1)
	}
	c.qargs = append(c.qargs, c.args...)
	if c.next != "" {
		c.qargs = append(c.qargs, int64(c.limit))
	}
	return query
}

// checkKey checks the first row of a keyset page against the key saved from
// the page before (a repeat is ErrOverlap), and saves the key of a full
// page's last row: LIMIT makes its n-th row the last, and only a full page
// is followed by another. dv, when not nil, holds the driver's values of the
// row (ForEach), which spare the order proof parsing integers again.
func (c *Cursor) checkKey(dv []driver.Value) error {
	if c.next == "" {
		return nil
	}
	c.order.row(c.vals, dv, c.key)
	if c.n == 1 && c.pages > 1 && c.repeated() {
		return ErrOverlap
	}
	if c.n == c.limit {
		return c.saveKey()
	}
	return nil
}

// repeated reports whether the current row's key has the bytes of the
// saved one. A keyset page's rows are all after the saved key, so its
// first row never has them; comparing bytes is exact for every KeyType,
// a server-side "after" is not needed for a row that repeats.
func (c *Cursor) repeated() bool {
	for i := range c.key {
		if v := c.vals[c.key[i].pos]; v == nil || !bytes.Equal(v, c.key[i].buf) {
			return false
		}
	}
	return true
}

// saveKey copies the key of the current row, which RawBytes only lends until
// the next rows.Next, into the reused per-column buffers.
func (c *Cursor) saveKey() error {
	same := c.pages > 1
	for i := range c.key {
		k := &c.key[i]
		v := c.vals[k.pos]
		if v == nil {
			return fmt.Errorf("%w (column %s)", ErrNullKey, sqlident.Append(nil, k.Name))
		}
		if same && !bytes.Equal(v, k.buf) {
			same = false
		}
		k.buf = append(k.buf[:0], v...)
	}
	if same {
		return ErrNoProgress
	}
	return nil
}

// appendCondArgs appends a nested key condition's arguments: a column's
// value twice (for "k > ?" and "k = ?"), the last column's once.
func appendCondArgs(args []any, key []keyState) []any {
	for i := range key {
		v := key[i].arg()
		args = append(args, v)
		if i < len(key)-1 {
			args = append(args, v)
		}
	}
	return args
}

// arg converts the saved value for the driver.
func (k *keyState) arg() any {
	switch k.Type {
	case KeyText:
		if k.Collation != "" {
			return hex.EncodeToString(k.buf) // for UNHEX(?): see KeyText
		}
		return string(k.buf)
	case KeyBinary:
		// The buffer is only read while QueryContext runs; it is non-nil, so
		// an empty value is written as _binary'' rather than NULL.
		return k.buf
	case KeyOrdinal:
		if u, err := strconv.ParseUint(string(k.buf), 10, 64); err == nil {
			return u
		}
	default:
		if i, err := strconv.ParseInt(string(k.buf), 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(k.buf), 10, 64); err == nil {
			return u
		}
	}
	return string(k.buf)
}

// fail records err, preferring the context's error when ctx is done (the
// driver may report a cancelled read as a broken connection).
func (c *Cursor) fail(ctx context.Context, op string, page int, err error) {
	if cerr := ctx.Err(); cerr != nil {
		err = cerr
	}
	c.err = fmt.Errorf("%s %s page %d: %w", op, c.name, page, err)
	if c.rows != nil {
		c.rows.Close()
		c.rows = nil
	}
}

// Values returns the current row's columns, in the order of Query.Columns
// and without the hidden key columns. A NULL is a nil slice; an empty string
// is a non-nil empty slice. The slices are not copies: they are valid only
// until the next call to Next or Close, and the returned slice itself is
// reused for every row.
func (c *Cursor) Values() []sql.RawBytes { return c.vals[:c.cols] }

// Err returns the error that ended the cursor, if any. A cancelled context
// is reported as an error wrapping ctx.Err().
func (c *Cursor) Err() error { return c.err }

// Close ends the cursor and closes the open page, if any. It is idempotent:
// later calls return nil. The driver reads and discards the rest of an open
// result, which is at most one page (a keyless query has one page: the whole
// table, so cancel the context instead to abort it quickly). Close does not
// close db.
func (c *Cursor) Close() error {
	c.done = true
	if c.rows == nil {
		return nil
	}
	err := c.rows.Close()
	c.rows = nil
	return err
}

// Pages returns the number of queries the cursor has run so far.
func (c *Cursor) Pages() int { return c.pages }
