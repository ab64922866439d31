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
	"time"

	"github.com/go-sql-driver/mysql"

	"lms-backup/dbconn"
	"lms-backup/dumpfile"

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
)

// Options configure a restore. Zero values mean defaults.
type Options struct {
	// Database is the target database (required).
	Database string
	// CreateDatabase creates the target when it does not exist.
	CreateDatabase bool
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
	// Progress, when set, is called after every frame. It must return quickly.
	Progress func(Progress)
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
	Num    int   // 1-based number of the statement in the dump
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
	return fmt.Sprintf("statement %d at byte %d%s: %v: %s", e.Num, e.Offset, where, e.Err, e.Text)
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

	created, err := prepareTarget(ctx, conn, opts)
	if err != nil {
		return nil, err
	}
	r := &runner{conn: conn, opts: opts, res: &Result{}, loaded: map[string]int64{}}
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

// inPlace loads the dump straight into the target. Should that fail in a
// target that was empty (or new), it removes what it created; with Force
// it leaves the target as the failure found it.
func (r *runner) inPlace(ctx context.Context, db *sql.DB, release func(), rd *dumpfile.Reader, created bool, log *slog.Logger) (err error) {
	defer func() {
		if err == nil || r.opts.Force {
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
			err = fmt.Errorf("%w (and removing the partial restore failed: %v)", err, cerr)
			return
		}
		log.Info("partial restore removed; the target is as it was", "database", r.opts.Database)
	}()
	if err := useDatabase(ctx, r.conn, r.opts.Database); err != nil {
		return err
	}
	return r.exec(ctx, rd)
}

// prepareTarget creates or checks the target database and selects it. It
// reports whether it created the database.
func prepareTarget(ctx context.Context, conn *sql.Conn, opts Options) (created bool, err error) {
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", opts.Database).Scan(&n); err != nil {
		return false, fmt.Errorf("look up database %s: %w", opts.Database, err)
	}
	id := sqlident.Quote(opts.Database)
	if n == 0 {
		if !opts.CreateDatabase {
			return false, fmt.Errorf("%w: database %q does not exist (create it, or pass --create-database)", ErrUsage, opts.Database)
		}
		if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+id); err != nil {
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
			if _, err := conn.ExecContext(ctx, "DROP "+d.kind+" IF EXISTS "+sqlident.Quote(database)+"."+sqlident.Quote(n)); err != nil {
				return err
			}
		}
	}
	return nil
}

type runner struct {
	conn *sql.Conn
	opts Options
	res  *Result
	// loaded counts the rows the server took per table.
	loaded map[string]int64
	// hold, when set, keeps frames of the kinds it names instead of running
	// them; held collects them in order (their Data copied).
	hold map[dumpfile.Kind]bool
	held []dumpfile.Frame
	p    Progress
}

// exec runs (or holds) every frame of rd.
func (r *runner) exec(ctx context.Context, rd *dumpfile.Reader) error {
	for {
		f, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if r.hold[f.Info.Kind] {
			c := *f
			c.Data = bytes.Clone(f.Data)
			r.held = append(r.held, c)
			continue
		}
		if err := r.frame(ctx, f); err != nil {
			return err
		}
	}
}

// frame runs the statements of one checked frame and commits them.
func (r *runner) frame(ctx context.Context, f *dumpfile.Frame) error {
	var loaded int64
	err := Split(f.Data, func(s Statement) error {
		r.res.Statements++
		res, err := r.conn.ExecContext(ctx, string(s.Text))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, mysql.ErrPktTooLarge) {
				err = fmt.Errorf("%w (raise the server's max_allowed_packet, e.g. SET GLOBAL max_allowed_packet=1073741824)", err)
			}
			return &StatementError{Num: r.res.Statements, Offset: f.Offset + int64(s.Offset), Table: f.Info.Table, Text: head(s.Text), Err: err}
		}
		if f.Info.Kind == dumpfile.KindData {
			n, _ := res.RowsAffected()
			loaded += n
		}
		return nil
	})
	if errors.Is(err, ErrSyntax) {
		return fmt.Errorf("%w: frame %d at byte %d: %v", dumpfile.ErrCorrupt, f.Index+1, f.Offset, err)
	}
	if err != nil {
		return err
	}
	if _, err := r.conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit frame %d: %w", f.Index+1, err)
	}
	switch f.Info.Kind {
	case dumpfile.KindSchema:
		r.res.Tables++
	case dumpfile.KindData:
		if loaded != f.Info.Rows {
			return fmt.Errorf("%w: table %s part %d: the server loaded %d rows, the dump holds %d", ErrStatement, f.Info.Table, f.Info.Part, loaded, f.Info.Rows)
		}
		r.loaded[f.Info.Table] += loaded
		r.res.Rows += loaded
	}
	if r.opts.Progress != nil {
		r.p.Table, r.p.Rows, r.p.Statements, r.p.Offset = f.Info.Table, r.res.Rows, r.res.Statements, f.Offset+int64(len(f.Data))
		r.opts.Progress(r.p)
	}
	return nil
}

// head returns the first characters of a statement for an error message.
// For an INSERT it stops before VALUES: the rows are personal data and do
// not belong in a log.
func head(stmt []byte) string {
	const n = 80
	if i := bytes.Index(stmt[:min(len(stmt), 4096)], []byte(") VALUES ")); i > 0 && bytes.HasPrefix(stmt, []byte("INSERT INTO ")) {
		stmt = stmt[:i+len(") VALUES")]
		if len(stmt) > n {
			stmt = stmt[:n]
		}
		return strings.ToValidUTF8(string(stmt), "?") + " ..."
	}
	s := strings.ToValidUTF8(string(stmt[:min(len(stmt), n)]), "?")
	if len(stmt) > n {
		s += "..."
	}
	return strings.ReplaceAll(s, "\n", " ")
}
