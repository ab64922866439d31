package dump

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
	"lms-backup/dumpfile"
)

// maxGlobalLockWait caps how long the control session waits for the lock
// that blocks commits: a long transaction or a LOCK TABLES elsewhere must
// make the dump fall back to one connection, not freeze production.
const maxGlobalLockWait = 30 * time.Second

// session holds a dump's connections, every one inside the same snapshot.
// meta lists the schema, writes schema frames and plans chunks (and reads
// every table itself when there are no workers); each worker reads chunks.
type session struct {
	meta        *sql.Conn
	workers     []*sql.Conn
	consistency string // for the header: "single-transaction", "backup-stage x 2", ...
	// fallback says why a dump asked for several threads runs on one
	// connection; "" when it does not.
	fallback string
	taken    []taken
}

// taken is one dedicated connection and its kill watch.
type taken struct {
	conn    *sql.Conn
	release func()
}

// take opens one dedicated connection (see dbconn.Dedicated) and sets up
// its session for dumping.
func (s *session) take(ctx context.Context, db *sql.DB, lockWait time.Duration) (*sql.Conn, error) {
	conn, release, err := dbconn.Dedicated(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	s.taken = append(s.taken, taken{conn, release})
	return conn, setupSession(ctx, conn, lockWait)
}

// close ends every connection's transaction and gives the connection back.
// It runs after a cancel too, so it uses a context of its own.
func (s *session) close() {
	for _, t := range s.taken {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t.conn.ExecContext(ctx, "ROLLBACK")
		cancel()
		t.conn.Close()
		t.release()
	}
	s.taken = nil
}

// dropWorkers gives the worker connections back: the dump goes on with
// meta alone.
func (s *session) dropWorkers() {
	keep := s.taken[:1]
	s.taken = s.taken[1:]
	s.close()
	s.taken, s.workers = keep, nil
}

// setupSession prepares a connection for dumping: UTF-8, UTC, an empty
// sql_mode, long network and idle timeouts, REPEATABLE READ and the lock
// waits. SET NAMES utf8mb4 makes the server convert every text value it
// sends to utf8mb4, which loses the characters of gbk, big5, sjis and
// other charsets that have no Unicode mapping: such columns are read as
// CAST(col AS BINARY) (selectExpr), and text keys as the bytes the column
// holds (selectsKey, paginate.KeyText), which the server does not convert.
func setupSession(ctx context.Context, conn *sql.Conn, lockWait time.Duration) error {
	wait := strconv.Itoa(int(lockWait / time.Second))
	setup := []string{
		"SET NAMES utf8mb4",
		"SET SESSION lock_wait_timeout = " + wait + ", innodb_lock_wait_timeout = " + wait,
		"SET SESSION time_zone = '+00:00'",
		"SET SESSION sql_mode = ''",
		"SET SESSION net_write_timeout = 3600",
		"SET SESSION net_read_timeout = 3600",
		// The meta connection idles while the readers go through a big
		// table, for hours on a big database; a production wait_timeout of
		// minutes must not end it (and the dump) meanwhile.
		"SET SESSION wait_timeout = 604800",
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
	}
	for _, q := range setup {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("set up session (%s): %w", q, err)
		}
	}
	// MariaDB only; MySQL has max_execution_time for SELECTs instead.
	if _, err := conn.ExecContext(ctx, "SET SESSION max_statement_time = 0"); err != nil {
		conn.ExecContext(ctx, "SET SESSION max_execution_time = 0")
	}
	return nil
}

const startSnapshot = "START TRANSACTION WITH CONSISTENT SNAPSHOT"

// openSession takes the connections of a dump with threads readers and
// opens one snapshot on all of them. With one thread, or when no global
// lock can be had (see parallelSnapshot), it is one connection in
// START TRANSACTION WITH CONSISTENT SNAPSHOT, as mariadb-dump
// --single-transaction. On error the connections taken are closed.
func openSession(ctx context.Context, db *sql.DB, opts Options, log *slog.Logger) (*session, error) {
	s := &session{consistency: "single-transaction"}
	if err := s.open(ctx, db, opts, log); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *session) open(ctx context.Context, db *sql.DB, opts Options, log *slog.Logger) error {
	var err error
	if s.meta, err = s.take(ctx, db, opts.LockWait); err != nil {
		return err
	}
	if opts.Threads > 1 {
		for range opts.Threads {
			conn, err := s.take(ctx, db, opts.LockWait)
			if err != nil {
				return err
			}
			s.workers = append(s.workers, conn)
		}
		// LockWait bounds the whole wait: the global lock gets at most
		// half of it, and the one connection a fallback goes on with
		// waits for a table only for what is left.
		start := time.Now()
		ok, err := s.parallelSnapshot(ctx, db, min(max(opts.LockWait/2, time.Second), maxGlobalLockWait), log)
		if err != nil || ok {
			return err
		}
		s.dropWorkers()
		rest := strconv.Itoa(int(max(opts.LockWait-time.Since(start), time.Second) / time.Second))
		if _, err := s.meta.ExecContext(ctx, "SET SESSION lock_wait_timeout = "+rest+", innodb_lock_wait_timeout = "+rest); err != nil {
			return fmt.Errorf("set up session: %w", err)
		}
	}
	if _, err := s.meta.ExecContext(ctx, startSnapshot); err != nil {
		return fmt.Errorf("start snapshot: %w", err)
	}
	return nil
}

// parallelSnapshot opens the same snapshot on meta and every worker. On a
// control connection it blocks commits for a moment, server-wide, with
// BACKUP STAGE BLOCK_COMMIT (MariaDB 10.4+: it waits for commits under way,
// not for running SELECTs), else with FLUSH TABLES WITH READ LOCK; starts
// a snapshot on every connection; and lets commits go on. No commit can
// fall between two of the snapshots, so they all see the same data, and
// the binary log position read from one holds for all.
//
// The lock is waited for at most wait. It reports false, having said why
// in s.fallback, when the server refuses the lock: the account lacks the
// RELOAD privilege, the server knows neither statement, or another session
// held a lock that long (a LOCK TABLES, a long DDL). Then the caller dumps
// on one connection. An error (a broken connection, a cancel) means the
// dump cannot go on.
func (s *session) parallelSnapshot(ctx context.Context, db *sql.DB, wait time.Duration, log *slog.Logger) (bool, error) {
	ctl, release, err := dbconn.Dedicated(ctx, db)
	if err != nil {
		return false, fmt.Errorf("dump: control connection: %w", err)
	}
	defer release()
	defer ctl.Close()
	if _, err := ctl.ExecContext(ctx, "SET SESSION lock_wait_timeout = "+strconv.Itoa(max(int(wait/time.Second), 1))); err != nil {
		return false, fmt.Errorf("set up the control session: %w", err)
	}
	method, unlock, err := blockCommits(ctx, ctl)
	var refused *mysql.MySQLError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return false, ctx.Err()
	case !errors.As(err, &refused): // the connection broke: no reason to go on
		return false, fmt.Errorf("take the global lock: %w", err)
	default:
		s.fallback = fallbackReason(err, wait) + "; dumping with one connection"
		return false, nil
	}
	blocked := time.Now()
	conns := append([]*sql.Conn{s.meta}, s.workers...)
	for _, conn := range conns {
		if _, err = conn.ExecContext(ctx, startSnapshot); err != nil {
			break
		}
	}
	// A context of its own: the lock must go even after a cancel.
	uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, uerr := ctl.ExecContext(uctx, unlock)
	log.Debug("commits were blocked while the snapshots started", "method", method, "connections", len(conns), "blocked", time.Since(blocked))
	if err != nil {
		return false, fmt.Errorf("start snapshot: %w", err)
	}
	if uerr != nil {
		return false, fmt.Errorf("release the global lock (%s): %w", unlock, uerr)
	}
	s.consistency = fmt.Sprintf("%s x %d", method, len(s.workers))
	return true, nil
}

// blockCommits takes a lock on ctl under which no transaction commits, and
// returns its name for the header and the statement that releases it.
// BACKUP STAGE is tried first; FLUSH TABLES WITH READ LOCK, which also
// waits for running statements and blocks writes while it waits, only when
// the server refuses BACKUP STAGE (unknown, or not allowed). After a lock
// wait timeout or a broken connection nothing else is tried: FTWRL would
// wait for the same lock, or fail the same way.
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

// fallbackReason says in a sentence why no global lock could be had.
func fallbackReason(err error, wait time.Duration) string {
	var me *mysql.MySQLError
	switch {
	case isLockWait(err):
		return fmt.Sprintf("a consistent snapshot on several connections waited %s for another session's lock (a LOCK TABLES or a long DDL; see SHOW PROCESSLIST)", wait)
	case errors.As(err, &me) && (me.Number == 1227 || me.Number == 1045 || me.Number == 1044):
		return "a consistent snapshot on several connections needs the RELOAD privilege (BACKUP STAGE or FLUSH TABLES WITH READ LOCK)"
	}
	return "a consistent snapshot on several connections needs BACKUP STAGE or FLUSH TABLES WITH READ LOCK: " +
		strings.ReplaceAll(err.Error(), "\n", "; ")
}

// isLockWait reports a lock wait timeout (MySQL error 1205).
func isLockWait(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1205
}

// readServer fills in the server's version and returns its
// max_allowed_packet.
func readServer(ctx context.Context, conn *sql.Conn, h *dumpfile.Header) (int64, error) {
	var maxPacket int64
	if err := conn.QueryRowContext(ctx, "SELECT VERSION(), @@max_allowed_packet").Scan(&h.ServerVersion, &maxPacket); err != nil {
		return 0, fmt.Errorf("read server version: %w", err)
	}
	return maxPacket, nil
}

// readBinlog fills in the binary log position and GTID that match the
// snapshot of conn (MariaDB reports them per transaction; MySQL does not).
func readBinlog(ctx context.Context, conn *sql.Conn, h *dumpfile.Header) {
	rows, err := conn.QueryContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_%'")
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
		if err := conn.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", h.BinlogFile, h.BinlogPos).Scan(&gtid); err == nil {
			h.GTID = gtid.String
		}
	}
}
