package dump

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"lms-backup/dumpfile"
	"lms-backup/snapshot"
)

// maxGlobalLockWait caps how long the control session waits for the lock
// that blocks commits: a long transaction or a LOCK TABLES elsewhere must
// make the dump fall back to one connection, not freeze production.
const maxGlobalLockWait = 30 * time.Second

// session holds a dump's connections, every one inside the same snapshot
// (package snapshot aligns them). meta lists the schema, writes schema
// frames and plans chunks (and reads every table itself when there are no
// workers); each worker reads chunks.
type session struct {
	group       *snapshot.Group
	meta        *sql.Conn
	workers     []*sql.Conn
	consistency string // for the header: "single-transaction", "backup-stage x 2", ...
	// fallback says why a dump asked for several threads runs on one
	// connection; "" when it does not.
	fallback string
}

// close ends every connection's transaction and gives the connection back.
// It runs after a cancel too.
func (s *session) close() {
	if s.group != nil {
		s.group.Close()
	}
}

// setupSession prepares a connection for dumping: UTF-8, UTC, an empty
// sql_mode, long network and idle timeouts, REPEATABLE READ and the lock
// waits. SET NAMES utf8mb4 makes the server convert every text value it
// sends to utf8mb4, which loses the characters of gbk, big5, sjis and
// other charsets that have no Unicode mapping: such columns are read as
// CAST(col AS BINARY) (selectExpr), and text keys as the bytes the column
// holds (selectsKey, paginate.KeyText), which the server does not convert.
func sessionSetup(lockWait time.Duration) []string {
	wait := strconv.Itoa(int(lockWait / time.Second))
	return []string{
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
}

// noStatementTimeout lifts the server's statement time limit for conn:
// max_statement_time on MariaDB, max_execution_time (SELECTs) on MySQL.
func noStatementTimeout(ctx context.Context, conn *sql.Conn) {
	if _, err := conn.ExecContext(ctx, "SET SESSION max_statement_time = 0"); err != nil {
		conn.ExecContext(ctx, "SET SESSION max_execution_time = 0")
	}
}

// openSession takes the connections of a dump with threads readers and
// opens one snapshot on all of them (snapshot.Open: commits are blocked
// for the moment the snapshots start, so the binary log position read on
// meta holds for all). With one thread, or when no commit lock can be had,
// it is one connection in START TRANSACTION WITH CONSISTENT SNAPSHOT, as
// mariadb-dump --single-transaction. On error the connections taken are
// given back.
func openSession(ctx context.Context, db *sql.DB, opts Options, log *slog.Logger) (*session, error) {
	conns := 1
	if opts.Threads > 1 {
		conns = opts.Threads + 1
	}
	// LockWait bounds the whole wait: the commit lock gets at most half of
	// it, and the one connection a fallback goes on with waits for a table
	// only for what is left.
	start := time.Now()
	g, err := snapshot.Open(ctx, db, snapshot.Options{Conns: conns, Setup: sessionSetup(opts.LockWait),
		LockWait: min(max(opts.LockWait/2, time.Second), maxGlobalLockWait)}, log)
	if err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	s := &session{group: g, meta: g.Conns[0], workers: g.Conns[1:], consistency: "single-transaction"}
	if len(s.workers) > 0 {
		s.consistency = fmt.Sprintf("%s x %d", g.Method, len(s.workers))
	}
	for _, conn := range g.Conns {
		noStatementTimeout(ctx, conn)
	}
	if g.Fallback != "" {
		s.fallback = g.Fallback + "; dumping with one connection"
		rest := strconv.Itoa(int(max(opts.LockWait-time.Since(start), time.Second) / time.Second))
		if _, err := s.meta.ExecContext(ctx, "SET SESSION lock_wait_timeout = "+rest+", innodb_lock_wait_timeout = "+rest); err != nil {
			s.close()
			return nil, fmt.Errorf("set up session: %w", err)
		}
	}
	return s, nil
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
