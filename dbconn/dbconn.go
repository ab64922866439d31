// Package dbconn connects to MySQL and MariaDB servers the way MySQL people
// expect: host "localhost" (or no host) means the unix socket, option files
// (~/.my.cnf or --defaults-file) supply the user and password, MYSQL_PWD is
// honoured, and --ssl-mode has the MySQL meanings.
//
// Options.Config turns the options into a go-sql-driver/mysql configuration;
// Open also connects and pings. Every error is one line that names the file or
// server at fault, never a password, carries a hint for the user, and wraps
// exactly one of ErrUsage, ErrConnect, ErrAuth or ErrNoDatabase (or the
// context's error when the context ended first).
package dbconn

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Sentinel errors. Test for them with errors.Is; the message of a returned
// error never contains their text.
var (
	// ErrUsage means the options are invalid or name a file that cannot be
	// read. Nothing was sent to the server.
	ErrUsage = errors.New("dbconn: invalid connection options")
	// ErrConnect means the server could not be reached: network or DNS
	// failure, missing socket, connection refused, timeout, TLS failure, or
	// a server error unrelated to the account.
	ErrConnect = errors.New("dbconn: cannot reach the server")
	// ErrAuth means the server rejected the account (MySQL errors 1044,
	// 1045, 1698, host not allowed, expired password, locked account, or an
	// unsupported authentication plugin).
	ErrAuth = errors.New("dbconn: access denied")
	// ErrNoDatabase means the default database does not exist (MySQL error
	// 1049).
	ErrNoDatabase = errors.New("dbconn: unknown database")
)

// dbError is every error this package returns. Its message is written here,
// so it never repeats a DSN or file contents; Unwrap exposes the sentinel and,
// where it is safe, the underlying cause (an *fs.PathError, a
// *mysql.MySQLError, a *net.OpError, ...).
type dbError struct {
	msg  string
	errs []error
}

func (e *dbError) Error() string   { return e.msg }
func (e *dbError) Unwrap() []error { return e.errs }

// newError returns an error with message msg wrapping kind and cause (either
// may be nil).
func newError(kind, cause error, msg string) error {
	e := &dbError{msg: msg}
	for _, err := range []error{kind, cause} {
		if err != nil {
			e.errs = append(e.errs, err)
		}
	}
	return e
}

// usageError returns an ErrUsage error with a formatted message.
func usageError(format string, args ...any) error {
	return newError(ErrUsage, nil, fmt.Sprintf(format, args...))
}

// ErrLost means a connection died in the middle of a run: the server was
// restarted or killed, or the network dropped.
var ErrLost = errors.New("dbconn: lost the connection to the server")

// Lost returns err marked with ErrLost and a hint when it says the
// connection died mid-run, and err unchanged otherwise.
func Lost(err error) error {
	if err == nil || errors.Is(err, ErrLost) {
		return err
	}
	if errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &dbError{msg: err.Error() + ": lost the connection to the server (was it restarted or killed? see its error log)",
			errs: []error{ErrLost, err}}
	}
	return err
}

// Dedicated takes one connection of db for a run that must not be spread
// over the pool (a snapshot, a session's settings), and makes the server
// end that connection's work when ctx is cancelled. The driver only closes
// its side of a cancelled connection; a statement waiting on the server
// (for a lock, say) would go on holding a server thread until it finished.
// So Dedicated reads the connection's id now and, on cancel, runs KILL on
// it from another connection of db.
//
// The caller closes conn. waitKill releases the watch; after a cancel it
// waits (at most 5 s) for the KILL. It may be called more than once.
func Dedicated(ctx context.Context, db *sql.DB) (conn *sql.Conn, waitKill func(), err error) {
	conn, err = db.Conn(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("open a connection: %w", err)
	}
	var id uint64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("read connection id: %w", err)
	}
	kill := func() {
		kctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		db.ExecContext(kctx, "KILL "+strconv.FormatUint(id, 10))
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		kill()
	})
	return conn, sync.OnceFunc(func() {
		if !stop() {
			<-done
			return
		}
		// ctx.Done() closes a moment before the cancel reaches the watch:
		// a caller that saw it and released at once stopped the watch
		// before it started, so the KILL is sent here.
		if ctx.Err() != nil {
			kill()
		}
	}), nil
}
