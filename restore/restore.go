// Package restore loads an lms-backup dump into a database.
package restore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"lms-backup/dbconn"
	"lms-backup/dumpfile"
	"lms-backup/dumpfile/sqlscript"

	"lms-backup/internal/sqlident"
)

var (
	// ErrUsage marks invalid options.
	ErrUsage = errors.New("restore: invalid options")
	// ErrNotEmpty means the target database already holds objects.
	ErrNotEmpty = errors.New("restore: target database is not empty")
	// ErrStatement means the server rejected a statement of the dump, or
	// loaded a different number of rows than the dump holds.
	ErrStatement = errors.New("restore: statement failed")
	// ErrTargetChanged marks a failed restore that could not leave the
	// target as it was: an --in-place --force restore, or one whose undo
	// failed. The error says what the target holds.
	ErrTargetChanged = errors.New("restore: target database changed")
)

// erWrongDBName is the server's error for a database name it refuses.
const erWrongDBName = 1102

// Options configure a restore. Zero values mean defaults.
type Options struct {
	// Database is the target database (required).
	Database string
	// CreateDatabase creates the target when it does not exist, with the
	// default charset and collation the dump's header records for the
	// source database (the server's defaults for a dump without them).
	CreateDatabase bool
	// Charset and Collation, when either is set, replace the header's as
	// the defaults of a database CreateDatabase creates.
	Charset, Collation string
	// Force restores into a database that already holds tables, routines or
	// events; the dump's DROP ... IF EXISTS statements replace objects of the
	// same name. Without it such a target is refused, and a failed restore
	// removes everything it created, leaving the target as it was.
	Force bool
	// InPlace loads straight into the target instead of into a staging
	// database swapped in at the end. It needs no privilege to create
	// databases, but a failure with Force leaves the target half-restored.
	InPlace bool
	// LockWait bounds how long the swap waits for another session's lock on
	// a table it replaces; 0 means 60 s.
	LockWait time.Duration
	// Threads is how many connections load rows at once (0 or 1: one).
	// Data frames then run on Threads connections of their own, in any
	// order; every other frame runs in file order on one connection.
	Threads int
	// Progress, when set, is called after every frame. It must return quickly.
	Progress func(Progress)
	// Replay, when set, runs after the rows are loaded into the staging
	// database and checked against the dump's trailer, and before the
	// dump's views, routines and triggers are created there: it brings the
	// staged tables forward (restore to a moment replays the archived
	// binary log). It gets the staging database's name, which the restore
	// then creates with the dumped database's default charset and
	// collation. It needs the staged restore (not InPlace).
	Replay func(ctx context.Context, staging string) error
	// AtSwapStep, when set, is called after each step of the atomic swap
	// that changes the server (n counts from 1; name says which step), for
	// tests that kill the process at every step.
	AtSwapStep func(n int, name string)
}

// Progress is a snapshot of a running restore.
type Progress struct {
	Table      string
	Rows       int64 // rows loaded so far
	Statements int
	Offset     int64 // uncompressed bytes read so far
}

// Validate checks the options without any I/O.
func (o Options) Validate() error {
	if o.Database == "" {
		return fmt.Errorf("%w: --database (the target) is required", ErrUsage)
	}
	if err := sqlident.CheckDatabaseName(o.Database); err != nil {
		return fmt.Errorf("%w: --database %q: %v", ErrUsage, o.Database, err)
	}
	if o.Threads < 0 || o.Threads > 64 {
		return fmt.Errorf("%w: --threads %d: use 1 to 64", ErrUsage, o.Threads)
	}
	if o.LockWait < 0 {
		return fmt.Errorf("%w: --lock-wait-timeout must not be negative", ErrUsage)
	}
	if o.Replay != nil && o.InPlace {
		return fmt.Errorf("%w: a restore to a moment needs the staging database: drop --in-place", ErrUsage)
	}
	if (o.Charset != "" || o.Collation != "") && !o.CreateDatabase {
		return fmt.Errorf("%w: --create-database-charset and --create-database-collation need --create-database", ErrUsage)
	}
	return nil
}

// Result summarises a finished restore.
type Result struct {
	Header     dumpfile.Header
	Tables     int
	Rows       int64
	Statements int
	Duration   time.Duration
}

// StatementError says which statement of a dump failed.
type StatementError struct {
	Frame  int   // 1-based number of the frame in the dump
	Num    int   // 1-based number of the statement in its frame
	Offset int64 // byte offset of the statement in the uncompressed dump
	Table  string
	Text   string // the statement's first characters
	Err    error
}

func (e *StatementError) Error() string {
	where := ""
	if e.Table != "" {
		where = " (table " + e.Table + ")"
	}
	return fmt.Sprintf("frame %d, statement %d at byte %d%s: %v: %s", e.Frame, e.Num, e.Offset, where, e.Err, e.Text)
}

func (e *StatementError) Unwrap() []error { return []error{ErrStatement, e.Err} }

// Run restores the dump read by rd into opts.Database. db must not select a
// default database (the target may not exist yet). Frames are checked
// before any of their statements run, so a damaged part is never executed.
//
// By default the tables are loaded into a staging database and swapped into
// the target only once every row is in (see stage.go); with opts.InPlace
// they are loaded into the target directly.
func Run(ctx context.Context, db *sql.DB, opts Options, rd *dumpfile.Reader, log *slog.Logger) (res *Result, err error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	conn, release, err := dbconn.Dedicated(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer conn.Close()
	defer release()

	// A swap into this target that a killed run left half-done is put
	// right first (see journal.go).
	if _, err := Recover(ctx, db, conn, opts.Database, log); err != nil {
		return nil, err
	}
	// The header frame comes first: it says how to create the target.
	first, err := rd.Next()
	if err == io.EOF {
		err = fmt.Errorf("%w: no header frame", dumpfile.ErrCorrupt)
	}
	if err != nil {
		return nil, err
	}
	created, err := prepareTarget(ctx, conn, opts, rd.Header())
	if err != nil {
		return nil, err
	}
	r := &runner{conn: conn, db: db, opts: opts, database: opts.Database, log: log, res: &Result{}, loaded: map[string]int64{}, first: first}
	if opts.InPlace {
		err = r.inPlace(ctx, db, release, rd, created, log)
	} else {
		err = r.staged(ctx, db, release, rd, created, log)
	}
	if err != nil {
		return nil, err
	}
	r.res.Header = *rd.Header()
	r.res.Duration = time.Since(start)
	return r.res, nil
}

// inPlace loads the dump straight into the target, then checks each
// table's row count against the trailer. Should that fail in a target that
// was empty (or new), it removes what it created; with Force it leaves the
// target as the failure found it and says so in the error.
func (r *runner) inPlace(ctx context.Context, db *sql.DB, release func(), rd *dumpfile.Reader, created bool, log *slog.Logger) (err error) {
	defer func() {
		if err == nil {
			return
		}
		if r.opts.Force {
			err = fmt.Errorf("%w (%w: the restore ran in place: %s may hold part of the dump; restore again)", err, ErrTargetChanged, r.opts.Database)
			return
		}
		// The target was empty (or new): put it back that way.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		// End conn's transaction (it holds locks on the tables to drop):
		// after a cancel the KILL did, otherwise ROLLBACK does. Then clean
		// up on a fresh connection, as a killed conn cannot.
		release()
		r.conn.ExecContext(cctx, "ROLLBACK")
		if cerr := cleanTarget(cctx, db, r.opts.Database, created); cerr != nil {
			log.Error("could not remove the partial restore", "database", r.opts.Database, "err", cerr)
			err = fmt.Errorf("%w (%w: removing the partial restore failed: %v)", err, ErrTargetChanged, cerr)
			return
		}
		log.Info("partial restore removed; the target is as it was", "database", r.opts.Database)
	}()
	if err := useDatabase(ctx, r.conn, r.opts.Database); err != nil {
		return err
	}
	if err := r.exec(ctx, rd); err != nil {
		return err
	}
	return checkCounts(ctx, r.conn, r.opts.Database, rd.Trailer())
}

// prepareTarget creates or checks the target database and selects it. It
// reports whether it created the database, which it does with the defaults
// opts or else the dump's header h names.
func prepareTarget(ctx context.Context, conn *sql.Conn, opts Options, h *dumpfile.Header) (created bool, err error) {
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", opts.Database).Scan(&n); err != nil {
		return false, fmt.Errorf("look up database %s: %w", opts.Database, err)
	}
	id := sqlident.Quote(opts.Database)
	if n == 0 {
		if !opts.CreateDatabase {
			return false, fmt.Errorf("%w: database %q does not exist (create it, or pass --create-database)", ErrUsage, opts.Database)
		}
		if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+id+createDefaults(opts, h)); err != nil {
			var me *mysql.MySQLError
			if errors.As(err, &me) && me.Number == erWrongDBName {
				return false, fmt.Errorf("%w: create database %q: %s (choose another --database)", ErrUsage, opts.Database, me.Message)
			}
			return false, fmt.Errorf("create database %s: %w", opts.Database, err)
		}
		created = true
	} else if !opts.Force {
		var objects int
		err := conn.QueryRowContext(ctx, `SELECT
			(SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?) +
			(SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?) +
			(SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?)`,
			opts.Database, opts.Database, opts.Database).Scan(&objects)
		if err != nil {
			return false, fmt.Errorf("inspect database %s: %w", opts.Database, err)
		}
		if objects > 0 {
			return false, fmt.Errorf("%w: database %q holds %d tables, views, routines or events (restore into an empty database, or pass --force to replace objects of the same name)", ErrNotEmpty, opts.Database, objects)
		}
	}
	return created, nil
}

// createDefaults returns the CHARACTER SET and COLLATE clauses of the
// target's CREATE DATABASE: opts's when either is set, else the header's.
// The names come from the file, so they are quoted as identifiers.
func createDefaults(opts Options, h *dumpfile.Header) string {
	charset, collation := opts.Charset, opts.Collation
	if charset == "" && collation == "" && h != nil {
		charset, collation = h.Charset, h.Collation
	}
	var clauses string
	if charset != "" {
		clauses += " CHARACTER SET " + sqlident.Quote(charset)
	}
	if collation != "" {
		clauses += " COLLATE " + sqlident.Quote(collation)
	}
	return clauses
}

// useDatabase makes name conn's default database and turns autocommit off:
// the runner commits after each frame.
func useDatabase(ctx context.Context, conn *sql.Conn, name string) error {
	if _, err := conn.ExecContext(ctx, "USE "+sqlident.Quote(name)); err != nil {
		return fmt.Errorf("use database %s: %w", name, err)
	}
	if _, err := conn.ExecContext(ctx, "SET autocommit = 0"); err != nil {
		return fmt.Errorf("set up session: %w", err)
	}
	return nil
}

// cleanTarget removes what a failed restore created: the database itself
// when the restore created it, else every object in it.
func cleanTarget(ctx context.Context, db *sql.DB, database string, created bool) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if created {
		_, err := conn.ExecContext(ctx, "DROP DATABASE "+sqlident.Quote(database))
		return err
	}
	drops := []struct{ kind, query string }{
		{"VIEW", "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?"},
		{"TABLE", "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW'"},
		{"FUNCTION", "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'FUNCTION'"},
		{"PROCEDURE", "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'PROCEDURE'"},
		// DROP PACKAGE drops the body too.
		{"PACKAGE", "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'PACKAGE'"},
		{"EVENT", "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?"},
	}
	if _, err := conn.ExecContext(ctx, "SET FOREIGN_KEY_CHECKS = 0"); err != nil {
		return err
	}
	for _, d := range drops {
		rows, err := conn.QueryContext(ctx, d.query, database)
		if err != nil {
			return err
		}
		var names []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			names = append(names, n)
		}
		rows.Close()
		for _, n := range names {
			if err := dropObject(ctx, conn, d.kind, sqlident.Quote(database)+"."+sqlident.Quote(n)); err != nil {
				return err
			}
		}
	}
	return nil
}

type runner struct {
	steps int       // swap steps taken, for Options.AtSwapStep
	conn  *sql.Conn // runs every frame but data frames when loaders run
	db    *sql.DB
	opts  Options
	// database is where tables and rows load: the target, or the staging
	// database.
	database string
	log      *slog.Logger
	// first is the header frame Run read before preparing the target; exec
	// runs it before reading on.
	first *dumpfile.Frame
	// hold, when set, keeps frames of the kinds it names instead of running
	// them; held collects them in order (their Data copied).
	hold map[dumpfile.Kind]bool
	held []dumpfile.Frame
	// load runs data frames on connections of their own (Threads > 1).
	load *loaders
	// deferred are the keys taken out of CREATE TABLEs, added after the rows.
	deferred []deferred

	mu  sync.Mutex // guards res and loaded while loaders run
	res *Result
	// loaded counts the rows the server took per table.
	loaded map[string]int64
}

// exec runs (or holds) every frame of rd, then adds the deferred keys.
func (r *runner) exec(ctx context.Context, rd *dumpfile.Reader) (err error) {
	defer func() {
		if r.load != nil {
			if cerr := r.load.close(); err == nil {
				err = cerr
			}
			r.load = nil
		}
	}()
	for {
		f, err := r.first, error(nil)
		if f != nil {
			r.first = nil
		} else {
			f, err = rd.Next()
		}
		if err == io.EOF {
			return r.finishLoad(ctx)
		}
		if err != nil {
			return err
		}
		switch {
		case f.Info.Kind == dumpfile.KindData && r.load != nil:
			if err := r.load.send(f); err != nil {
				return err
			}
			r.progress(f)
			continue
		case r.hold[f.Info.Kind]:
			c := *f
			c.Data = bytes.Clone(f.Data)
			r.held = append(r.held, c)
			continue
		case f.Info.Kind == dumpfile.KindObjects || f.Info.Kind == dumpfile.KindTrailer:
			// Triggers, views and routines come after every row.
			if err := r.finishLoad(ctx); err != nil {
				return err
			}
		}
		if err := r.frame(ctx, r.conn, f); err != nil {
			return err
		}
		r.progress(f)
		if f.Info.Kind == dumpfile.KindHeader && r.opts.Threads > 1 {
			if r.load, err = r.startLoaders(ctx, f); err != nil {
				return err
			}
		}
	}
}

// finishLoad waits for the loaders' frames, then adds the deferred keys:
// each table's plain keys in one ALTER TABLE (spread over the loaders),
// then the foreign keys, which may need another table's keys.
func (r *runner) finishLoad(ctx context.Context) error {
	if r.load != nil {
		if err := r.load.drain(); err != nil {
			return err
		}
	}
	todo := r.deferred
	r.deferred = nil
	if len(todo) > 0 {
		start := time.Now()
		defer func() {
			r.log.Debug("keys added after the rows", "tables", len(todo), "seconds", time.Since(start).Seconds())
		}()
	}
	var keys, fks []string
	for _, d := range todo {
		if len(d.keys) > 0 {
			keys = append(keys, "ALTER TABLE "+sqlident.Quote(d.table)+" "+strings.Join(d.keys, ", "))
		}
		if len(d.fks) > 0 {
			fks = append(fks, "ALTER TABLE "+sqlident.Quote(d.table)+" "+strings.Join(d.fks, ", "))
		}
	}
	if r.load != nil {
		if err := r.load.run(keys); err != nil {
			return err
		}
	} else if err := execAll(ctx, r.conn, keys); err != nil {
		return err
	}
	return execAll(ctx, r.conn, fks)
}

// execAll runs statements that put back keys a CREATE TABLE left out.
func execAll(ctx context.Context, conn *sql.Conn, stmts []string) error {
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return keyError(ctx, q, err)
		}
	}
	return nil
}

func keyError(ctx context.Context, q string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: add the keys after the rows (%s): %w", ErrStatement, sqlscript.Head([]byte(q)), err)
}

// errDeadlock is MySQL's error 1213: InnoDB rolled the whole transaction
// back, so the frame can run again.
const errDeadlock = 1213

// frame runs the statements of one checked frame on conn and commits them.
// A frame that meets a deadlock runs again, up to three times.
func (r *runner) frame(ctx context.Context, conn *sql.Conn, f *dumpfile.Frame) error {
	for attempt := 1; ; attempt++ {
		err := r.runFrame(ctx, conn, f)
		var me *mysql.MySQLError
		if attempt < 3 && errors.As(err, &me) && me.Number == errDeadlock {
			conn.ExecContext(ctx, "ROLLBACK")
			continue
		}
		return err
	}
}

// insertPrefix is how every statement of a data frame of table starts.
func insertPrefix(table string) []byte {
	return append(sqlident.Append([]byte("INSERT INTO "), table), " ("...)
}

func (r *runner) runFrame(ctx context.Context, conn *sql.Conn, f *dumpfile.Frame) error {
	if err := sqlscript.CheckStatements(f); err != nil {
		return err
	}
	var prefix []byte
	if f.Info.Kind == dumpfile.KindData {
		prefix = insertPrefix(f.Info.Table)
	}
	var loaded int64
	n := 0
	sp := sqlscript.FrameSplitter(f.Info.Kind)
	err := sp.Split(f.Data, func(s sqlscript.Statement) error {
		n++
		text := s.Text
		if prefix != nil && !bytes.HasPrefix(text, prefix) {
			return fmt.Errorf("%w: a data frame of %q holds a statement that is not an INSERT into it: %s", sqlscript.ErrSyntax, f.Info.Table, sqlscript.Head(text))
		}
		if f.Info.Kind == dumpfile.KindSchema && bytes.HasPrefix(text, []byte("CREATE TABLE ")) {
			if create, d, ok := deferKeys(f.Info.Table, string(text)); ok {
				text = []byte(create)
				r.deferred = append(r.deferred, d) // schema frames run on one goroutine
			}
		}
		res, err := conn.ExecContext(ctx, string(text))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, mysql.ErrPktTooLarge) {
				err = fmt.Errorf("%w (raise the server's max_allowed_packet, e.g. SET GLOBAL max_allowed_packet=1073741824)", err)
			}
			return &StatementError{Frame: f.Index + 1, Num: n, Offset: f.Offset + int64(s.Offset), Table: f.Info.Table, Text: sqlscript.Head(s.Text), Err: err}
		}
		if f.Info.Kind == dumpfile.KindData {
			n, _ := res.RowsAffected()
			loaded += n
		}
		return nil
	})
	if err == nil {
		if cerr := sp.CheckFrameEnd(f.Info.Kind); cerr != nil {
			err = fmt.Errorf("%w: %v", sqlscript.ErrSyntax, cerr)
		}
	}
	if errors.Is(err, sqlscript.ErrSyntax) {
		return fmt.Errorf("%w: frame %d at byte %d: %v", dumpfile.ErrCorrupt, f.Index+1, f.Offset, err)
	}
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit frame %d: %w", f.Index+1, err)
	}
	if f.Info.Kind == dumpfile.KindData && loaded != f.Info.Rows {
		return fmt.Errorf("%w: table %s part %d: the server loaded %d rows, the dump holds %d", ErrStatement, f.Info.Table, f.Info.Part, loaded, f.Info.Rows)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Statements += n
	switch f.Info.Kind {
	case dumpfile.KindSchema:
		r.res.Tables++
	case dumpfile.KindData:
		r.loaded[f.Info.Table] += loaded
		r.res.Rows += loaded
	}
	return nil
}

// progress reports after frame f was run or handed to a loader.
func (r *runner) progress(f *dumpfile.Frame) {
	if r.opts.Progress == nil {
		return
	}
	r.mu.Lock()
	p := Progress{Table: f.Info.Table, Rows: r.res.Rows, Statements: r.res.Statements, Offset: f.Offset + int64(len(f.Data))}
	r.mu.Unlock()
	r.opts.Progress(p)
}

// dropObject drops an object of kind (TABLE, VIEW, FUNCTION, PROCEDURE,
// PACKAGE, PACKAGE BODY, TRIGGER or EVENT) by its quoted, qualified name,
// if it exists. Packages exist only under sql_mode ORACLE, which is set
// for their DROP and put back after it.
func dropObject(ctx context.Context, conn *sql.Conn, kind, name string) error {
	drop := "DROP " + kind + " IF EXISTS " + name
	if !strings.HasPrefix(kind, "PACKAGE") {
		_, err := conn.ExecContext(ctx, drop)
		return err
	}
	if _, err := conn.ExecContext(ctx, "SET @lms_backup_sql_mode = @@SESSION.sql_mode, SESSION sql_mode = 'ORACLE'"); err != nil {
		return err
	}
	_, err := conn.ExecContext(ctx, drop)
	if _, rerr := conn.ExecContext(ctx, "SET SESSION sql_mode = @lms_backup_sql_mode"); err == nil {
		err = rerr
	}
	return err
}

// step reports a step of the swap to Options.AtSwapStep.
func (r *runner) step(name string) {
	r.steps++
	if r.opts.AtSwapStep != nil {
		r.opts.AtSwapStep(r.steps, name)
	}
}
