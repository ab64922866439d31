// Package dump streams a MySQL/MariaDB database into an lms-backup dump
// file from one consistent snapshot.
//
// Run reads every table row by row inside START TRANSACTION WITH
// CONSISTENT SNAPSHOT, encodes rows into extended INSERTs bounded in
// bytes, and hands finished frames to a writer goroutine that compresses
// and writes them, so reading and compressing overlap while memory stays
// at a few frame buffers per connection.
//
// With Options.Threads above 1 the snapshot is opened on several
// connections at one instant (see parallelSnapshot). One connection lists
// the schema, writes each table's definition and cuts big tables into key
// ranges (see planChunks); the others read those chunks in parallel. The
// frames of a table may so interleave with other tables' frames; the
// writer numbers each table's parts in file order.
package dump

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"

	"lms-backup/dumpfile"
	"lms-backup/internal/sqlident"
	"lms-backup/schema"
)

// ErrUsage marks invalid options.
var ErrUsage = errors.New("dump: invalid options")

// ErrLockWait means a table stayed locked by another session for longer
// than Options.LockWait.
var ErrLockWait = errors.New("dump: waited too long for a table lock")

// Defaults and limits.
const (
	DefaultMaxStatement = 1 << 20
	defaultFrameSize    = 1 << 20
	defaultPageRows     = 20000
	minStatement        = 4 << 10
	// MaxThreads bounds Options.Threads: each thread is a server
	// connection and a few frame buffers.
	MaxThreads = 64
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
	// It is called from several goroutines at once when Threads > 1.
	FrameSize func() int
	// PageRows returns how many rows the next keyset page of a table reads;
	// asked before each page. nil means 20,000. Called concurrently like
	// FrameSize.
	PageRows func() int
	// Tool names the program in the dump header, e.g. "lms-backup 1.0.0".
	Tool string
	// LockWait bounds how long the dump waits for a lock another session
	// holds (a LOCK TABLES, a long ALTER): the session's lock_wait_timeout
	// and innodb_lock_wait_timeout. 0 means 300 s. It bounds the whole
	// wait: the global lock that opens a snapshot on several connections
	// is waited for at most min(LockWait/2, 30 s), and after a fallback to
	// one connection its table reads wait for what is left.
	LockWait time.Duration
	// Threads is the number of connections that read rows in parallel,
	// from 1 to MaxThreads; 0 means runtime.NumCPU(). 1 reads everything
	// on the one snapshot connection, in table order. Above 1 one more
	// connection reads the schema and plans chunks, and the dump falls
	// back to one connection (with a warning) when the account may not
	// take the short global lock this needs.
	Threads int
	// ChunkRows is the rows of a key-range chunk when Threads > 1; 0 means
	// DefaultChunkRows. Tables estimated at up to twice that are one chunk.
	ChunkRows int
	// NoHistory dumps only the current rows of system-versioned tables.
	// By default every row version is dumped with its ROW START and ROW
	// END values, and restored as it was.
	NoHistory bool
	// Progress, when set, is called after every data frame, from one
	// goroutine at a time. It must return quickly.
	Progress func(Progress)
}

// Progress is a snapshot of a running dump.
type Progress struct {
	Table      string
	TableIndex int // 1-based
	Tables     int
	Rows       int64 // all rows so far
	Written    int64 // compressed bytes so far
	// Estimated is the rows the dump expects in all: the server's
	// estimates of the tables (TABLE_ROWS), never below Rows.
	Estimated int64
}

// Validate checks the options without any I/O.
func (o Options) Validate() error {
	if o.Database == "" {
		return fmt.Errorf("%w: --database is required", ErrUsage)
	}
	if err := sqlident.CheckDatabaseName(o.Database); err != nil {
		return fmt.Errorf("%w: --database %q: %v", ErrUsage, o.Database, err)
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
	if o.Threads < 0 || o.Threads > MaxThreads {
		return fmt.Errorf("%w: --threads %d: use 1 to %d (1 dumps on one connection; the default is the number of CPUs)", ErrUsage, o.Threads, MaxThreads)
	}
	if o.ChunkRows < 0 {
		return fmt.Errorf("%w: --chunk-rows %d: use a positive row count", ErrUsage, o.ChunkRows)
	}
	switch o.Compression {
	case "", dumpfile.None, dumpfile.Gzip, dumpfile.Zstd:
	default:
		return fmt.Errorf("%w: unknown compression %q", ErrUsage, o.Compression)
	}
	return nil
}

// withDefaults fills in the zero values.
func (o Options) withDefaults() Options {
	if o.Compression == "" {
		o.Compression = dumpfile.Zstd
	}
	if o.MaxStatement == 0 {
		o.MaxStatement = DefaultMaxStatement
	}
	if o.FrameSize == nil {
		o.FrameSize = func() int { return defaultFrameSize }
	}
	if o.PageRows == nil {
		o.PageRows = func() int { return defaultPageRows }
	}
	if o.LockWait == 0 {
		o.LockWait = 300 * time.Second
	}
	o.LockWait = max(o.LockWait, time.Second)
	if o.Threads == 0 {
		o.Threads = min(runtime.NumCPU(), MaxThreads)
	}
	if o.ChunkRows == 0 {
		o.ChunkRows = DefaultChunkRows
	}
	return o
}

// Result summarises a finished dump.
type Result struct {
	// Header is the dump's header; Header.Consistency says how the
	// snapshot was taken and on how many connections.
	Header   dumpfile.Header
	Tables   []dumpfile.TableSummary
	Rows     int64
	Frames   int
	Written  int64 // bytes written to the output
	Duration time.Duration
	Warnings []string
}

// Run dumps opts.Database from db into w. w is not closed; on error part of
// a dump may have been written, so callers write to an atomic file. Every
// connection Run takes is rolled back and given back before it returns;
// after an error or a cancel their statements are killed on the server.
func Run(ctx context.Context, db *sql.DB, opts Options, w io.Writer, log *slog.Logger) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	// Cancelled on an error before the connections are given back, so that
	// dbconn.Dedicated kills what they still run on the server.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := openSession(ctx, db, opts, log)
	if err != nil {
		return nil, lockWaitError(err, opts.LockWait)
	}
	defer s.close()

	d := &dumper{opts: opts, log: log, res: &Result{}}
	if s.fallback != "" {
		d.warn(s.fallback, "threads", opts.Threads)
	}
	hdr, err := d.header(ctx, s)
	if err != nil {
		cancel()
		return nil, err
	}
	d.res.Header = hdr

	fw, err := dumpfile.NewWriter(w, opts.Compression)
	if err != nil {
		return nil, err
	}
	defer fw.Close()
	d.pipe = newPipe(fw, max(len(s.workers), 1)+pipeSpare) // meta reads when there are no workers
	err = d.run(ctx, s, hdr)
	if err != nil {
		cancel()
	}
	if cerr := d.pipe.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, lockWaitError(err, opts.LockWait)
	}
	d.res.Tables = d.trailer.Tables
	d.res.Rows = d.rows.Load()
	d.res.Frames = fw.Frames()
	d.res.Written = fw.Written()
	d.res.Duration = time.Since(start)
	return d.res, nil
}

// dumper is one run. Its methods are called from the meta goroutine and
// the readers; the fields below mu are shared between them.
type dumper struct {
	opts    Options
	log     *slog.Logger
	pipe    *pipe
	res     *Result
	trailer *dumpfile.Trailer // read after the pipe is closed
	// maxPacket is the server's max_allowed_packet.
	maxPacket int64
	tables    int   // for progress
	estimated int64 // for progress: the tables' row estimates

	rows     atomic.Int64 // rows dumped so far
	mu       sync.Mutex   // guards res.Warnings and progress
	progress Progress
}

// header reads the server's description and the snapshot's binary log
// position from the meta connection, and bounds MaxStatement by
// max_allowed_packet.
func (d *dumper) header(ctx context.Context, s *session) (dumpfile.Header, error) {
	h := dumpfile.Header{Tool: d.opts.Tool, Database: d.opts.Database, Started: time.Now().UTC(),
		Consistency: s.consistency}
	var err error
	if d.maxPacket, err = readServer(ctx, s.meta, &h); err != nil {
		return h, err
	}
	readBinlog(ctx, s.meta, &h)
	err = s.meta.QueryRowContext(ctx, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
		d.opts.Database).Scan(&h.Charset, &h.Collation)
	if err != nil {
		return h, fmt.Errorf("read the default charset of database %s: %w", d.opts.Database, err)
	}
	if d.opts.MaxStatement > int(d.maxPacket)-1024 {
		d.opts.MaxStatement = max(int(d.maxPacket)-1024, minStatement)
	}
	return h, nil
}

func (d *dumper) run(ctx context.Context, s *session, hdr dumpfile.Header) error {
	tables, err := listTables(ctx, s.meta, d.opts.Database)
	if err != nil {
		return err
	}
	routines, views, triggers, events, err := schema.ListObjects(ctx, s.meta, d.opts.Database)
	if err != nil {
		return err
	}
	if err := d.emit(ctx, dumpfile.FrameInfo{Kind: dumpfile.KindHeader}, func(b []byte) []byte {
		return appendHeader(b, hdr)
	}); err != nil {
		return err
	}
	d.tables = len(tables)
	for _, t := range tables {
		if !t.Sequence && !t.NoRows {
			d.estimated += t.Estimate
		}
	}
	// Sequences first: a table's DEFAULT may call NEXTVAL on one.
	for _, t := range tables {
		if t.Sequence {
			if err := d.dumpSequence(ctx, s.meta, t); err != nil {
				return err
			}
		}
	}
	if len(s.workers) == 0 {
		rd := &reader{conn: s.meta}
		err = d.dumpTables(ctx, s.meta, tables, false, func(c chunk) error { return d.dumpChunk(ctx, rd, c) })
	} else {
		err = d.dumpParallel(ctx, s, tables)
	}
	if err != nil {
		return err
	}
	for _, group := range [][]schema.Definition{routines, views, triggers, events} {
		if err := d.dumpObjects(ctx, group); err != nil {
			return err
		}
	}
	d.trailer = &dumpfile.Trailer{Completed: time.Now().UTC()}
	for _, t := range tables {
		if !t.Sequence {
			d.trailer.Tables = append(d.trailer.Tables, dumpfile.TableSummary{Name: t.Name, Rows: t.rows.Load()})
		}
	}
	fb, err := d.pipe.get(ctx)
	if err != nil {
		return err
	}
	fb.buf = append(fb.buf, trailerSQL...)
	fb.info, fb.trailer = dumpfile.FrameInfo{Kind: dumpfile.KindTrailer}, d.trailer
	return d.pipe.send(ctx, fb)
}

// dumpTables writes each table's definition and hands its chunks to read,
// in table order; unless chunked, a table is one chunk.
func (d *dumper) dumpTables(ctx context.Context, meta *sql.Conn, tables []*table, chunked bool, read func(chunk) error) error {
	for i, t := range tables {
		if t.Sequence {
			continue
		}
		t.index = i + 1
		if err := d.dumpSchema(ctx, meta, t); err != nil {
			return err
		}
		if err := d.prepare(ctx, meta, t); err != nil {
			return fmt.Errorf("dump table %s: %w", t.Name, err)
		}
		if t.NoRows {
			continue
		}
		var err error
		if chunked {
			err = planChunks(ctx, meta, t, d.opts.ChunkRows, read)
		} else {
			err = read(chunk{t: t})
		}
		if err != nil {
			return fmt.Errorf("dump table %s: %w", t.Name, err)
		}
	}
	return nil
}

// dumpParallel runs dumpTables on the meta connection, feeding chunks to
// one reader per worker connection. The queue is unbuffered: planning stays
// one chunk ahead of the readers. The first error cancels the others.
func (d *dumper) dumpParallel(ctx context.Context, s *session, tables []*table) error {
	g, gctx := errgroup.WithContext(ctx)
	queue := make(chan chunk)
	for _, conn := range s.workers {
		g.Go(func() error {
			rd := &reader{conn: conn}
			for c := range queue {
				if err := d.dumpChunk(gctx, rd, c); err != nil {
					return fmt.Errorf("dump table %s: %w", c.t.Name, err)
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(queue)
		return d.dumpTables(gctx, s.meta, tables, true, func(c chunk) error {
			select {
			case queue <- c:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	return g.Wait()
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

// warn logs a warning and keeps it for the Result. Safe for concurrent use.
func (d *dumper) warn(msg string, args ...any) {
	d.log.Warn(msg, args...)
	d.mu.Lock()
	d.res.Warnings = append(d.res.Warnings, msg)
	d.mu.Unlock()
}

// report counts rows of t just sent and calls Progress. Safe for
// concurrent use.
func (d *dumper) report(t *table, rows int64) {
	total := d.rows.Add(rows)
	if d.opts.Progress == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.progress = Progress{Table: t.Name, TableIndex: t.index, Tables: d.tables, Rows: total, Written: d.pipe.written(),
		Estimated: max(d.estimated, total)}
	d.opts.Progress(d.progress)
}

// dumpSchema writes t's DROP and CREATE TABLE in a schema frame, after
// warning about what the snapshot cannot cover.
func (d *dumper) dumpSchema(ctx context.Context, conn *sql.Conn, t *table) error {
	switch {
	case t.NoRows:
		d.log.Info("table's rows live elsewhere: its definition is dumped, its rows are not", "table", t.Name, "engine", t.Engine)
	case strings.EqualFold(t.Engine, "innodb"), t.Engine == "":
	default:
		d.warn("table is not transactional: its rows are read as they are, outside the snapshot", "table", t.Name, "engine", t.Engine)
	}
	res, err := schema.ShowCreate(ctx, conn, "SHOW CREATE TABLE "+string(AppendIdent(nil, t.Name)))
	if err != nil {
		return fmt.Errorf("show create table %s: %w", t.Name, err)
	}
	if t.Versioned {
		d.historyColumns(t, res["Create Table"])
	}
	create := schema.UnqualifySequences(res["Create Table"], d.opts.Database)
	return d.emit(ctx, dumpfile.FrameInfo{Kind: dumpfile.KindSchema, Table: t.Name}, func(b []byte) []byte {
		return schema.AppendTableSchema(b, t.Name, create)
	})
}

// historyColumns decides whether t's row versions are dumped and, if so,
// adds its ROW START and ROW END columns to the columns an INSERT writes:
// a restore inserts them as they are, with system_versioning_insert_history
// on (see headerSQL). Without NoHistory every version is dumped, unless
// the periods are transaction ids (BIGINT UNSIGNED ROW START), which no
// server accepts back: then only the current rows are, with a warning.
func (d *dumper) historyColumns(t *table, create string) {
	if d.opts.NoHistory {
		d.warn("system-versioned table: only current rows are dumped (--no-history)", "table", t.Name)
		return
	}
	start, end, explicit := schema.PeriodColumns(create)
	cs := Column{Name: "row_start", DataType: "timestamp", Kind: KindText}
	ce := Column{Name: "row_end", DataType: "timestamp", Kind: KindText}
	if explicit {
		var ok1, ok2 bool
		cs, ok1 = t.generated[start]
		ce, ok2 = t.generated[end]
		if !ok1 || !ok2 {
			d.warn("system-versioned table: its period columns were not found; only current rows are dumped", "table", t.Name)
			return
		}
	}
	if cs.DataType != "timestamp" || ce.DataType != "timestamp" {
		d.warn("system-versioned table with transaction-precise history: a server cannot take those versions back, so only current rows are dumped", "table", t.Name)
		return
	}
	t.Columns = append(t.Columns, cs, ce)
	t.History, t.rowEnd = true, ce.Name
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

// dumpSequence writes a sequence's definition and its current state.
func (d *dumper) dumpSequence(ctx context.Context, conn *sql.Conn, t *table) error {
	id := string(AppendIdent(nil, t.Name))
	res, err := schema.ShowCreate(ctx, conn, "SHOW CREATE SEQUENCE "+id)
	if err != nil {
		return fmt.Errorf("show create sequence %s: %w", t.Name, err)
	}
	var next, round string
	if err := conn.QueryRowContext(ctx, "SELECT next_not_cached_value, cycle_count FROM "+id).Scan(&next, &round); err != nil {
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
		b = append(b, ", 0, "...)
		b = append(b, round...) // how often it has cycled
		return append(b, ");\n"...)
	})
}

// dumpObjects writes one frame with the given views, routines, triggers or
// events, each created under the sql_mode and charset it was created with.
func (d *dumper) dumpObjects(ctx context.Context, objs []schema.Definition) error {
	if len(objs) == 0 {
		return nil
	}
	return d.emit(ctx, dumpfile.FrameInfo{Kind: dumpfile.KindObjects}, func(b []byte) []byte {
		for _, o := range objs {
			create := o.Create
			if d.opts.Definer == "strip" {
				create = schema.StripDefiner(create)
			}
			b = schema.AppendObject(b, o, create, d.warn)
		}
		return append(b, "SET NAMES utf8mb4;\nSET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00';\n"...)
	})
}
