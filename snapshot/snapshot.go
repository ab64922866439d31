// Package snapshot opens several connections of one database inside one
// consistent InnoDB snapshot, so that queries run side by side on them
// see the same data. MariaDB cannot hand a snapshot from one session to
// another; instead a control connection blocks commits server-wide for
// the moment it takes every connection to start its own snapshot (BACKUP
// STAGE BLOCK_COMMIT, else FLUSH TABLES WITH READ LOCK). Without the
// privilege for either lock the group is one connection, and says why.
//
// The package knows nothing about what the connections are used for: the
// dump's readers (dump/session.go) and the report's queries use it.
package snapshot

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"lms-backup/dbconn"
)

// DefaultStart is the statement that starts a snapshot when
// Options.Start is empty.
const DefaultStart = "START TRANSACTION WITH CONSISTENT SNAPSHOT"

// Options configure Open. The zero value asks for one connection.
type Options struct {
	// Conns is how many connections to open; below 1 means 1.
	Conns int
	// Setup runs on every connection before its snapshot starts (session
	// settings, the isolation level).
	Setup []string
	// Start starts the snapshot on each connection; "" means DefaultStart.
	Start string
	// LockWait bounds the wait for the lock that blocks commits; 0 means
	// 10 s. A server that holds another session's lock longer makes Open
	// fall back to one connection rather than block production writes.
	LockWait time.Duration
}

// Group is a set of connections inside one snapshot. Conns[0] always
// exists; each connection is for one goroutine at a time.
type Group struct {
	Conns []*sql.Conn
	// Method is how the snapshots were aligned: "single" (one connection),
	// "backup-stage" or "flush-tables-with-read-lock".
	Method string
	// Fallback says why the group has one connection when more were
	// asked for; "" otherwise.
	Fallback string

	release []func()
}

// Open takes o.Conns dedicated connections of db (see dbconn.Dedicated:
// cancelling ctx kills their queries on the server) and starts one
// snapshot on all of them. When no commit lock can be had it returns a
// group of one connection with Fallback set. On error every connection
// taken is given back. The caller calls Close.
func Open(ctx context.Context, db *sql.DB, o Options, log *slog.Logger) (*Group, error) {
	if o.Start == "" {
		o.Start = DefaultStart
	}
	if o.LockWait <= 0 {
		o.LockWait = 10 * time.Second
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Group{Method: "single"}
	if err := g.open(ctx, db, o, log); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

func (g *Group) open(ctx context.Context, db *sql.DB, o Options, log *slog.Logger) error {
	for range max(o.Conns, 1) {
		conn, release, err := dbconn.Dedicated(ctx, db)
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		g.Conns, g.release = append(g.Conns, conn), append(g.release, release)
		for _, q := range o.Setup {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("set up session (%s): %w", q, err)
			}
		}
	}
	if len(g.Conns) > 1 {
		ok, err := g.aligned(ctx, db, o, log)
		if err != nil || ok {
			return err
		}
		g.drop()
	}
	if _, err := g.Conns[0].ExecContext(ctx, o.Start); err != nil {
		return fmt.Errorf("start snapshot: %w", err)
	}
	return nil
}

// aligned starts the snapshot on every connection while a control
// connection blocks commits. It reports false, with g.Fallback set, when
// the server refuses the lock; an error means the run cannot go on.
func (g *Group) aligned(ctx context.Context, db *sql.DB, o Options, log *slog.Logger) (bool, error) {
	ctl, release, err := dbconn.Dedicated(ctx, db)
	if err != nil {
		return false, fmt.Errorf("snapshot: control connection: %w", err)
	}
	defer release()
	defer ctl.Close()
	wait := strconv.Itoa(max(int(o.LockWait/time.Second), 1))
	if _, err := ctl.ExecContext(ctx, "SET SESSION lock_wait_timeout = "+wait); err != nil {
		return false, fmt.Errorf("set up the control session: %w", err)
	}
	method, unlock, err := blockCommits(ctx, ctl)
	var refused *mysql.MySQLError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return false, ctx.Err()
	case !errors.As(err, &refused):
		return false, fmt.Errorf("take the commit lock: %w", err)
	default:
		g.Fallback = fallbackReason(err, o.LockWait)
		return false, nil
	}
	blocked := time.Now()
	for _, conn := range g.Conns {
		if _, err = conn.ExecContext(ctx, o.Start); err != nil {
			break
		}
	}
	// A context of its own: the lock must go even after a cancel.
	uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, uerr := ctl.ExecContext(uctx, unlock)
	log.Debug("commits were blocked while the snapshots started", "method", method, "connections", len(g.Conns), "blocked", time.Since(blocked))
	if err != nil {
		return false, fmt.Errorf("start snapshot: %w", err)
	}
	if uerr != nil {
		return false, fmt.Errorf("release the commit lock (%s): %w", unlock, uerr)
	}
	g.Method = method
	return true, nil
}

// blockCommits takes a lock on ctl under which no transaction commits and
// returns its name and the statement that releases it: BACKUP STAGE
// BLOCK_COMMIT (MariaDB 10.4+; it does not wait for running SELECTs), else
// FLUSH TABLES WITH READ LOCK when the server refuses the first. After a
// lock wait timeout or a broken connection nothing else is tried.
func blockCommits(ctx context.Context, ctl *sql.Conn) (method, unlock string, err error) {
	_, err = ctl.ExecContext(ctx, "BACKUP STAGE START")
	if err == nil {
		if _, err = ctl.ExecContext(ctx, "BACKUP STAGE BLOCK_COMMIT"); err == nil {
			return "backup-stage", "BACKUP STAGE END", nil
		}
		ctl.ExecContext(ctx, "BACKUP STAGE END")
	}
	var refused *mysql.MySQLError
	if !errors.As(err, &refused) || isLockWait(err) || ctx.Err() != nil {
		return "", "", err
	}
	if _, ferr := ctl.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); ferr != nil {
		return "", "", fmt.Errorf("%w; %w", err, ferr)
	}
	return "flush-tables-with-read-lock", "UNLOCK TABLES", nil
}

// fallbackReason says in a sentence why no commit lock could be had.
func fallbackReason(err error, wait time.Duration) string {
	var me *mysql.MySQLError
	switch {
	case isLockWait(err):
		return fmt.Sprintf("one snapshot on several connections waited %s for another session's lock (a LOCK TABLES or a long DDL; see SHOW PROCESSLIST)", wait)
	case errors.As(err, &me) && (me.Number == 1227 || me.Number == 1045 || me.Number == 1044):
		return "one snapshot on several connections needs the RELOAD privilege (BACKUP STAGE or FLUSH TABLES WITH READ LOCK)"
	}
	return "one snapshot on several connections needs BACKUP STAGE or FLUSH TABLES WITH READ LOCK: " +
		strings.ReplaceAll(err.Error(), "\n", "; ")
}

func isLockWait(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1205
}

// drop gives back every connection but the first.
func (g *Group) drop() {
	for i := len(g.Conns) - 1; i > 0; i-- {
		g.Conns[i].Close()
		g.release[i]()
	}
	g.Conns, g.release = g.Conns[:1], g.release[:1]
}

// Close ends every connection's transaction and gives the connections
// back. It runs after a cancel too, so it uses a context of its own. It
// may be called more than once.
func (g *Group) Close() {
	for i, conn := range g.Conns {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn.ExecContext(ctx, "ROLLBACK")
		cancel()
		conn.Close()
		g.release[i]()
	}
	g.Conns, g.release = nil, nil
}
