// Package dump streams a MySQL/MariaDB database into an lms-backup dump
// file from one consistent snapshot.
//
// Run reads every table row by row on a single connection inside
// START TRANSACTION WITH CONSISTENT SNAPSHOT, encodes rows into extended
// INSERTs bounded in bytes, and hands finished frames to a writer goroutine
// that compresses and writes them, so reading and compressing overlap while
// memory stays at a few frame buffers.
package dump

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"lms-backup/dbconn"
	"lms-backup/dumpfile"
	"lms-backup/paginate"
)

// ErrUsage marks invalid options.
var ErrUsage = errors.New("dump: invalid options")

// ErrLockWait means a table stayed locked by another session for longer
// than Options.LockWait.
var ErrLockWait = errors.New("dump: waited too long for a table lock")

// Defaults.
const (
	DefaultMaxStatement = 1 << 20
	defaultFrameSize    = 1 << 20
	defaultPageRows     = 20000
	minStatement        = 4 << 10
)

// Options configure a dump. Zero values mean defaults.
type Options struct {
	// Database is the database to dump (required).
	Database string
	// Compression of the frames; "" means zstd.
	Compression dumpfile.Compression
	// Definer is "keep" (default) or "strip": strip removes DEFINER clauses
	// so views, routines, triggers and events belong to whoever restores.
	Definer string
	// MaxStatement bounds an extended INSERT in bytes (default 1 MiB, and
	// never above the server's max_allowed_packet). A single row larger than
	// this gets a statement of its own.
	MaxStatement int
	// FrameSize returns the uncompressed size after which the next data
	// frame ends; it is asked before each frame, so a memory guard can shrink
	// frames (and so the dump's buffers) under pressure. nil means 1 MiB.
	FrameSize func() int
	// PageRows returns how many rows the next keyset page of a table reads;
	// asked before each page. nil means 20,000.
	PageRows func() int
	// Tool names the program in the dump header, e.g. "lms-backup 1.0.0".
	Tool string
	// LockWait bounds how long the dump waits for a lock another session
	// holds (a LOCK TABLES, a long ALTER): the session's lock_wait_timeout
	// and innodb_lock_wait_timeout. 0 means 300 s.
	LockWait time.Duration
	// Progress, when set, is called after every frame from the dumping
	// goroutine. It must return quickly.
	Progress func(Progress)
}

// Progress is a snapshot of a running dump.
type Progress struct {
	Table      string
	TableIndex int // 1-based
	Tables     int
	Rows       int64 // all rows so far
	Written    int64 // compressed bytes so far
}

// Validate checks the options without any I/O.
func (o Options) Validate() error {
	if o.Database == "" {
		return fmt.Errorf("%w: --database is required", ErrUsage)
	}
	switch o.Definer {
	case "", "keep", "strip":
	default:
		return fmt.Errorf("%w: --definer %q: use keep or strip", ErrUsage, o.Definer)
	}
	if o.LockWait < 0 {
		return fmt.Errorf("%w: --lock-wait-timeout must not be negative", ErrUsage)
	}
	if o.MaxStatement != 0 && o.MaxStatement < minStatement {
		return fmt.Errorf("%w: --max-statement-size %d is below %d bytes", ErrUsage, o.MaxStatement, minStatement)
	}
	switch o.Compression {
	case "", dumpfile.None, dumpfile.Gzip, dumpfile.Zstd:
	default:
		return fmt.Errorf("%w: unknown compression %q", ErrUsage, o.Compression)
	}
	return nil
}

// Result summarises a finished dump.
type Result struct {
	Header   dumpfile.Header
	Tables   []dumpfile.TableSummary
	Rows     int64
	Frames   int
	Written  int64 // bytes written to the output
	Duration time.Duration
	Warnings []string
}

// Run dumps opts.Database from db into w. w is not closed; on error part of
// a dump may have been written, so callers write to an atomic file.
func Run(ctx context.Context, db *sql.DB, opts Options, w io.Writer, log *slog.Logger) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Compression == "" {
		opts.Compression = dumpfile.Zstd
	}
	if opts.MaxStatement == 0 {
		opts.MaxStatement = DefaultMaxStatement
	}
	if opts.FrameSize == nil {
		opts.FrameSize = func() int { return defaultFrameSize }
	}
	if opts.PageRows == nil {
		opts.PageRows = func() int { return defaultPageRows }
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	conn, release, err := dbconn.Dedicated(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	defer conn.Close()
	defer release()

	d := &dumper{conn: conn, opts: opts, log: log, res: &Result{}}
	hdr, err := d.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")
	d.res.Header = hdr

	fw, err := dumpfile.NewWriter(w, opts.Compression)
	if err != nil {
		return nil, err
	}
	defer fw.Close()
	d.pipe = newPipe(fw)
	err = d.run(ctx, hdr)
	if cerr := d.pipe.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, lockWaitError(err, opts.LockWait)
	}
	d.res.Frames = fw.Frames()
	d.res.Written = fw.Written()
	d.res.Duration = time.Since(start)
	return d.res, nil
}

type dumper struct {
	conn *sql.Conn
	opts Options
	log  *slog.Logger
	pipe *pipe
	res  *Result
	// maxPacket is the server's max_allowed_packet.
	maxPacket int64
	progress  Progress
}

// begin sets up the session and opens the snapshot.
func (d *dumper) begin(ctx context.Context) (dumpfile.Header, error) {
	h := dumpfile.Header{Tool: d.opts.Tool, Database: d.opts.Database, Started: time.Now().UTC(),
		Consistency: "single-transaction"}
	wait := int(max(d.opts.LockWait, time.Second) / time.Second)
	if d.opts.LockWait == 0 {
		wait = 300
	}
	setup := []string{
		"SET NAMES utf8mb4",
		fmt.Sprintf("SET SESSION lock_wait_timeout = %d, innodb_lock_wait_timeout = %d", wait, wait),
		"SET SESSION time_zone = '+00:00'",
		"SET SESSION sql_mode = ''",
		"SET SESSION net_write_timeout = 3600",
		"SET SESSION net_read_timeout = 3600",
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	}
	for _, q := range setup {
		if _, err := d.conn.ExecContext(ctx, q); err != nil {
			return h, fmt.Errorf("set up session (%s): %w", q, err)
		}
	}
	// MariaDB only; MySQL has max_execution_time for SELECTs instead.
	if _, err := d.conn.ExecContext(ctx, "SET SESSION max_statement_time = 0"); err != nil {
		d.conn.ExecContext(ctx, "SET SESSION max_execution_time = 0")
	}
	if err := d.conn.QueryRowContext(ctx, "SELECT VERSION(), @@max_allowed_packet").Scan(&h.ServerVersion, &d.maxPacket); err != nil {
		return h, fmt.Errorf("read server version: %w", err)
	}
	if _, err := d.conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return h, fmt.Errorf("start snapshot: %w", err)
	}
	// MariaDB reports the binary log position that matches the snapshot.
	rows, err := d.conn.QueryContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err == nil {
		for rows.Next() {
			var name, value string
			if rows.Scan(&name, &value) != nil {
				continue
			}
			switch strings.ToLower(name) {
			case "binlog_snapshot_file":
				h.BinlogFile = value
			case "binlog_snapshot_position":
				fmt.Sscan(value, &h.BinlogPos)
			}
		}
		rows.Close()
	}
	if h.BinlogFile != "" {
		var gtid sql.NullString
		if err := d.conn.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", h.BinlogFile, h.BinlogPos).Scan(&gtid); err == nil {
			h.GTID = gtid.String
		}
	}
	if d.opts.MaxStatement > int(d.maxPacket)-1024 {
		d.opts.MaxStatement = max(int(d.maxPacket)-1024, minStatement)
	}
	return h, nil
}

func (d *dumper) run(ctx context.Context, hdr dumpfile.Header) error {
	tables, err := listTables(ctx, d.conn, d.opts.Database)
	if err != nil {
		return err
	}
	routines, views, triggers, events, err := listObjects(ctx, d.conn, d.opts.Database)
	if err != nil {
		return err
	}
	if err := d.emit(ctx, dumpfile.FrameInfo{Kind: dumpfile.KindHeader}, func(b []byte) []byte {
		return appendHeader(b, hdr)
	}); err != nil {
		return err
	}
	d.progress.Tables = len(tables)
	// Sequences first: a table's DEFAULT may call NEXTVAL on one.
	for _, t := range tables {
		if t.Sequence {
			if err := d.dumpSequence(ctx, t); err != nil {
				return err
			}
		}
	}
	for i, t := range tables {
		if t.Sequence {
			continue
		}
		d.progress.Table, d.progress.TableIndex = t.Name, i+1
		if err := d.dumpTable(ctx, t); err != nil {
			return err
		}
	}
	for _, group := range [][]object{routines, views, triggers, events} {
		if err := d.dumpObjects(ctx, group); err != nil {
			return err
		}
	}
	trailer := dumpfile.Trailer{Completed: time.Now().UTC(), Frames: d.pipe.sent, Tables: d.res.Tables}
	return d.emit(ctx, dumpfile.FrameInfo{Kind: dumpfile.KindTrailer}, func(b []byte) []byte {
		b = append(b, trailerSQL...)
		return dumpfile.AppendTrailerLine(b, trailer)
	})
}

// emit sends one frame whose content fill appends.
func (d *dumper) emit(ctx context.Context, info dumpfile.FrameInfo, fill func([]byte) []byte) error {
	fb, err := d.pipe.get(ctx)
	if err != nil {
		return err
	}
	fb.buf = fill(fb.buf)
	fb.info = info
	return d.pipe.send(ctx, fb)
}

func (d *dumper) warn(msg string, args ...any) {
	d.log.Warn(msg, args...)
	d.res.Warnings = append(d.res.Warnings, msg)
}

func (d *dumper) dumpTable(ctx context.Context, t *table) error {
	switch strings.ToLower(t.Engine) {
	case "innodb", "":
	default:
		d.warn("table is not transactional: its rows are read as they are, outside the snapshot", "table", t.Name, "engine", t.Engine)
	}
	if t.Versioned {
		d.warn("system-versioned table: only current rows are dumped, history is not", "table", t.Name)
	}
	res, err := showCreate(ctx, d.conn, "SHOW CREATE TABLE "+string(AppendIdent(nil, t.Name)))
	if err != nil {
		return fmt.Errorf("show create table %s: %w", t.Name, err)
	}
	if err := d.emit(ctx, dumpfile.FrameInfo{Kind: dumpfile.KindSchema, Table: t.Name}, func(b []byte) []byte {
		b = append(b, "--\n-- Table "...)
		b = AppendIdent(b, t.Name)
		b = append(b, "\n--\nDROP TABLE IF EXISTS "...)
		b = AppendIdent(b, t.Name)
		b = append(b, ";\n"...)
		b = append(b, res["Create Table"]...)
		return append(b, ";\n"...)
	}); err != nil {
		return err
	}
	sum, err := d.dumpRows(ctx, t)
	if err != nil {
		return fmt.Errorf("dump table %s: %w", t.Name, err)
	}
	d.res.Tables = append(d.res.Tables, sum)
	d.log.Debug("table dumped", "table", t.Name, "rows", sum.Rows, "frames", sum.DataFrames)
	return nil
}

// dumpRows streams the rows of t into data frames.
func (d *dumper) dumpRows(ctx context.Context, t *table) (dumpfile.TableSummary, error) {
	sum := dumpfile.TableSummary{Name: t.Name}
	if len(t.Columns) == 0 {
		return sum, nil
	}
	var prefix []byte
	prefix = append(prefix, "INSERT INTO "...)
	prefix = AppendIdent(prefix, t.Name)
	prefix = append(prefix, " ("...)
	exprs := make([]string, len(t.Columns))
	for i := range t.Columns {
		if i > 0 {
			prefix = append(prefix, ',')
		}
		exprs[i] = selectExpr(&t.Columns[i])
		prefix = AppendIdent(prefix, t.Columns[i].Name)
	}
	prefix = append(prefix, ") VALUES "...)

	cur, err := d.cursor(ctx, t, exprs)
	if err != nil {
		return sum, err
	}
	defer cur.Close()
	var (
		fb        *frameBuf
		row       []byte
		stmtLen   int   // bytes of the open statement, 0 when none is open
		frameRows int64 // rows in fb
		frameSize = d.frameSize()
		warned    bool
	)
	flush := func() error {
		if stmtLen > 0 {
			fb.buf = append(fb.buf, ";\n"...)
			stmtLen = 0
		}
		sum.DataFrames++
		fb.info = dumpfile.FrameInfo{Kind: dumpfile.KindData, Table: t.Name, Part: sum.DataFrames, Rows: frameRows}
		err := d.pipe.send(ctx, fb)
		fb, frameRows, frameSize = nil, 0, d.frameSize()
		d.progress.Written = d.pipe.written()
		if d.opts.Progress != nil {
			d.opts.Progress(d.progress)
		}
		return err
	}
	for cur.Next(ctx, d.conn) {
		vals := cur.Values()
		row = append(row[:0], '(')
		for i := range vals {
			if i > 0 {
				row = append(row, ',')
			}
			row = AppendValue(row, &t.Columns[i], vals[i], vals[i] == nil)
		}
		row = append(row, ')')
		// End the frame before this row would take it past its size (a
		// frame holds at least one row), and the statement before the row
		// would take it past MaxStatement. Frames so stay within their
		// buffers' capacity and the buffers never grow.
		if fb != nil && frameRows > 0 && len(fb.buf)+len(prefix)+len(row)+3 > frameSize {
			if err := flush(); err != nil {
				return sum, err
			}
		}
		if stmtLen > 0 && stmtLen+1+len(row)+2 > min(d.opts.MaxStatement, frameSize) {
			fb.buf = append(fb.buf, ";\n"...)
			stmtLen = 0
		}
		if fb == nil {
			if fb, err = d.pipe.get(ctx); err != nil {
				return sum, err
			}
			if cap(fb.buf) < frameSize {
				fb.buf = make([]byte, 0, frameSize)
			}
		}
		if stmtLen == 0 {
			fb.buf = append(fb.buf, prefix...)
			stmtLen = len(prefix)
		} else {
			fb.buf = append(fb.buf, ',')
			stmtLen++
		}
		fb.buf = append(fb.buf, row...)
		stmtLen += len(row)
		frameRows++
		sum.Rows++
		d.progress.Rows++
		if int64(stmtLen)+2 > d.maxPacket && !warned {
			warned = true
			d.warn("a row needs a statement larger than the server's max_allowed_packet: the restoring server and client need a larger max_allowed_packet",
				"table", t.Name, "statement_bytes", stmtLen+2, "max_allowed_packet", d.maxPacket)
		}
	}
	if err := cur.Err(); err != nil {
		return sum, err
	}
	if fb != nil {
		if err := flush(); err != nil {
			return sum, err
		}
	}
	d.res.Rows += sum.Rows
	return sum, nil
}

// lockWaitError marks a lock wait timeout (MySQL error 1205) with
// ErrLockWait and says what to do.
func lockWaitError(err error, wait time.Duration) error {
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1205 {
		return err
	}
	if wait == 0 {
		wait = 300 * time.Second
	}
	return fmt.Errorf("%w: %v (another session held a lock for over %s: find it with SHOW PROCESSLIST, or raise --lock-wait-timeout)", ErrLockWait, err, wait)
}

// cursor pages through t by its primary key (or a unique NOT NULL key),
// reading exprs; a table without such a key is read in one streamed query.
// Key columns that are selected unchanged are read from the row itself.
func (d *dumper) cursor(ctx context.Context, t *table, exprs []string) (*paginate.Cursor, error) {
	key, err := paginate.FindKey(ctx, d.conn, d.opts.Database, t.Name)
	if err != nil {
		return nil, err
	}
	for k := range key {
		for i, c := range t.Columns {
			plain := c.Kind == KindNumber || c.Kind == KindText || c.Kind == KindBinary
			if c.Name == key[k].Name && plain && key[k].Type != paginate.KeyOrdinal {
				key[k].Index = i
			}
		}
	}
	return paginate.New(paginate.Query{Table: t.Name, Columns: exprs, Key: key},
		paginate.Options{PageSize: d.opts.PageRows, Log: d.log.With("table", t.Name)})
}

// frameSize asks for the next data frame's size (at least 64 KiB; a
// smaller frame also bounds its statements) and lets the pipe drop buffers
// much larger than that, grown by a single huge row.
func (d *dumper) frameSize() int {
	n := max(d.opts.FrameSize(), 64<<10)
	d.pipe.keep.Store(int64(2 * n))
	return n
}

// dumpSequence writes a sequence's definition and its current state.
func (d *dumper) dumpSequence(ctx context.Context, t *table) error {
	id := string(AppendIdent(nil, t.Name))
	res, err := showCreate(ctx, d.conn, "SHOW CREATE SEQUENCE "+id)
	if err != nil {
		return fmt.Errorf("show create sequence %s: %w", t.Name, err)
	}
	var next string
	if err := d.conn.QueryRowContext(ctx, "SELECT next_not_cached_value FROM "+id).Scan(&next); err != nil {
		return fmt.Errorf("read sequence %s: %w", t.Name, err)
	}
	return d.emit(ctx, dumpfile.FrameInfo{Kind: dumpfile.KindSchema, Table: t.Name}, func(b []byte) []byte {
		b = append(b, "DROP SEQUENCE IF EXISTS "...)
		b = append(b, id...)
		b = append(b, ";\n"...)
		b = append(b, res["Create Table"]...)
		b = append(b, ";\nDO SETVAL("...)
		b = append(b, id...)
		b = append(b, ", "...)
		b = append(b, next...)
		return append(b, ", 0);\n"...)
	})
}

// dumpObjects writes one frame with the given views, routines, triggers or
// events, each created under the sql_mode and charset it was created with.
func (d *dumper) dumpObjects(ctx context.Context, objs []object) error {
	if len(objs) == 0 {
		return nil
	}
	return d.emit(ctx, dumpfile.FrameInfo{Kind: dumpfile.KindObjects}, func(b []byte) []byte {
		for _, o := range objs {
			create := o.Create
			if d.opts.Definer == "strip" {
				create = stripDefiner(create)
			}
			b = appendObject(b, o, create, d.warn)
		}
		return append(b, "SET NAMES utf8mb4;\nSET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00';\n"...)
	})
}
