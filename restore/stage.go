package restore

// The staged restore. Loading straight into the target leaves it half
// restored when the load fails (a damaged frame, a full disk, a lost
// server, a statement the server rejects). So the dump's tables and rows go
// into a staging database first; only when every frame has loaded and every
// table holds the rows the trailer promises are they swapped into the target
// with one RENAME TABLE, which MariaDB and MySQL run atomically.
//
// MariaDB refuses to move a table with triggers, or a view, to another
// database, so the swap goes like this:
//
//  1. snapshot the target: its tables, and every view, routine, trigger and
//     event as the statements that recreate it (schema.Objects);
//  2. drop the triggers of the target's tables that the dump replaces, and
//     the views that stand where the dump has a table;
//  3. RENAME TABLE target.t TO old.t, ..., staging.t TO target.t, ... in one
//     statement: the replaced tables move aside to a second database, with
//     their rows and their foreign keys among each other;
//  4. run the dump's views, routines, triggers and events in the target.
//
// Should step 2, 3 or 4 fail, the rollback drops what differs from the
// snapshot, renames the tables back and recreates the snapshot's objects,
// then checks the target against the snapshot. On success the replaced
// tables are dropped with their holding database.
//
// Between steps 2 and 3 (a few milliseconds) writes to the replaced tables
// run without their triggers; the old rows are dropped at the end anyway.
// A table outside the dump whose foreign key refers to a replaced table
// would follow it to the holding database (InnoDB renames references), so
// such a target is refused before anything is touched.

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"lms-backup/dumpfile"
	"lms-backup/dumpfile/sqlscript"
	"lms-backup/schema"

	"lms-backup/internal/sqlident"
)

// StagePrefix starts the names of the databases a staged restore creates:
// PREFIX<id>_new holds the tables being loaded, PREFIX<id>_old the target's
// tables they replace until the restore completes. Such a database left
// after a SIGKILL or a crash can be inspected and dropped by hand.
const StagePrefix = "lms_restore_"

// ErrLockWait means the swap waited longer than Options.LockWait for
// another session's lock on a table it replaces.
var ErrLockWait = errors.New("restore: waited too long for a table lock")

// swapTimeout bounds the swap and its rollback. They run after the load
// and are not cancelled by a signal: stopping half-way is what they avoid.
const swapTimeout = 10 * time.Minute

type stage struct {
	db       *sql.DB
	target   string
	newDB    string
	oldDB    string
	lockWait time.Duration
	log      *slog.Logger
	// charset and collation, when set, replace the target's defaults for
	// the staging database.
	charset, collation string

	// Filled by the swap.
	before   inventory
	incoming []string // tables of newDB, all moved into the target
	moved    []string // the target's tables moved to oldDB
	renamed  bool     // the RENAME TABLE has run
}

// inventory is what a database holds.
type inventory struct {
	tables  map[string]string // name -> TABLE_TYPE
	objects []schema.Object
}

// staged loads the dump into a staging database and swaps it in.
func (r *runner) staged(ctx context.Context, db *sql.DB, release func(), rd *dumpfile.Reader, created bool, log *slog.Logger) (err error) {
	id := make([]byte, 4)
	rand.Read(id)
	st := &stage{db: db, target: r.opts.Database, lockWait: r.opts.LockWait, log: log,
		newDB: StagePrefix + hex.EncodeToString(id) + "_new", oldDB: StagePrefix + hex.EncodeToString(id) + "_old"}
	if st.lockWait == 0 {
		st.lockWait = 60 * time.Second
	}
	if err := st.claim(ctx, r.conn); err != nil {
		return err
	}
	defer r.conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", ownerLock(st.newDB))
	st.sweepLeftovers(ctx, r.conn)
	if r.opts.Replay != nil {
		// Tables the replay creates take the staging database's defaults,
		// and the row events must meet the source's column charsets.
		st.charset, st.collation = rd.Header().Charset, rd.Header().Collation
	}
	if err := st.createNew(ctx, r.conn); err != nil {
		return err
	}
	swapped := false
	defer func() {
		if swapped {
			return
		}
		// The target is as it was; remove the staging database (and the
		// target, when this restore created it). End conn's transaction
		// first: it holds locks on the staged tables.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		release()
		r.conn.ExecContext(cctx, "ROLLBACK")
		if cerr := st.discard(cctx, created); cerr != nil {
			log.Error("could not remove the staging database", "database", st.newDB, "err", cerr)
			err = fmt.Errorf("%w (and removing the staging database %s failed: %v; drop it by hand)", err, st.newDB, cerr)
		}
	}()

	log.Debug("loading into a staging database", "staging", st.newDB)
	r.database = st.newDB
	if err := useDatabase(ctx, r.conn, st.newDB); err != nil {
		return err
	}
	r.hold = map[dumpfile.Kind]bool{dumpfile.KindObjects: true, dumpfile.KindTrailer: true}
	if err := r.exec(ctx, rd); err != nil {
		return err
	}
	if err := r.checkRows(ctx, rd.Trailer(), st.newDB); err != nil {
		return err
	}
	if r.opts.Replay != nil {
		// The replay runs on connections of its own: end this one's
		// transaction, whose locks on the staged tables would block its DDL.
		if _, err := r.conn.ExecContext(ctx, "COMMIT"); err != nil {
			return fmt.Errorf("end the load's transaction: %w", err)
		}
		if err := r.opts.Replay(ctx, st.newDB); err != nil {
			return err
		}
	}
	if err := st.rehearse(ctx, r); err != nil {
		return err
	}
	// From here on a signal no longer stops the restore: the swap is short,
	// and a swap cut off half-way is what the staging avoids.
	release()
	if err := ctx.Err(); err != nil {
		return err
	}
	swapped = true
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), swapTimeout)
	defer cancel()
	return lockWaitError(st.swap(sctx, r, created), st.lockWait)
}

// ownerLock is the name of the lock a run holds, on its own connection,
// for as long as its staging database stage may exist: the server drops
// the lock when the connection ends, however the process ended, so a
// staging database whose lock nobody holds belongs to a dead run.
func ownerLock(stage string) string { return strings.TrimSuffix(stage, "_new") }

// claim takes the owner lock of st's staging database on conn, which the
// run keeps until it ends.
func (st *stage) claim(ctx context.Context, conn *sql.Conn) error {
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", ownerLock(st.newDB)).Scan(&got); err != nil {
		return fmt.Errorf("take the staging database's owner lock: %w", err)
	}
	if got.Int64 != 1 {
		return fmt.Errorf("take the staging database's owner lock %s: held by another session", ownerLock(st.newDB))
	}
	return nil
}

// sweepLeftovers drops the staging databases (lms_restore_<id>_new) of
// runs that are provably dead, their owner lock free, saying so in one
// line each; a live run's are left alone. Databases of a swap that was
// cut off (lms_restore_<id>_old) may hold the target's old tables: they
// are only named in a warning, to be checked and dropped by hand.
func (st *stage) sweepLeftovers(ctx context.Context, conn *sql.Conn) {
	names, err := queryNames(ctx, conn, `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?`,
		strings.ReplaceAll(StagePrefix, "_", `\_`)+"%")
	if err != nil {
		return
	}
	pending := map[string]bool{} // ids with a journal: recovery's, not the sweep's
	for _, n := range names {
		if id, ok := strings.CutSuffix(n, swapSuffix); ok {
			pending[id] = true
		}
	}
	for _, n := range names {
		id := n[:strings.LastIndexByte(n, '_')]
		if n == st.newDB || pending[id] {
			continue
		}
		if !strings.HasSuffix(n, "_new") {
			st.log.Warn("a database of an interrupted restore is left over: check what it holds, then drop it", "database", n)
			continue
		}
		var holder sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", ownerLock(n)).Scan(&holder); err != nil || holder.Valid {
			continue // a live restore's, or unknown
		}
		if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+sqlident.Quote(n)); err != nil {
			st.log.Warn("could not drop the staging database of an interrupted restore: drop it by hand", "database", n, "err", err)
			continue
		}
		st.log.Warn("dropped the staging database of an interrupted restore: no live run holds it", "database", n)
	}
}

// createNew creates the staging database with the target's default
// character set and collation.
func (st *stage) createNew(ctx context.Context, conn *sql.Conn) error {
	var charset, collation string
	err := conn.QueryRowContext(ctx, `SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME
		FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?`, st.target).Scan(&charset, &collation)
	if err != nil {
		return fmt.Errorf("read the defaults of database %s: %w", st.target, err)
	}
	if st.charset != "" && st.collation != "" {
		charset, collation = st.charset, st.collation
	}
	q := "CREATE DATABASE " + sqlident.Quote(st.newDB) + " CHARACTER SET " + sqlident.Quote(charset) + " COLLATE " + sqlident.Quote(collation)
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("%w: create the staging database %s: %w (grant the restoring user ALL on %s%% databases, or restore with --in-place)", ErrStatement, st.newDB, err, strings.ReplaceAll(StagePrefix, "_", `\_`))
	}
	return nil
}

// discard drops the staging database, and the target when the restore
// created it, on a connection of its own.
func (st *stage) discard(ctx context.Context, created bool) error {
	conn, err := st.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	drop := []string{st.newDB}
	if created {
		drop = append(drop, st.target)
	}
	for _, name := range drop {
		if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+sqlident.Quote(name)); err != nil {
			return err
		}
	}
	return nil
}

// rehearse creates the dump's routines, views and triggers in the staging
// database, where a failure (a definer the user may not set, a view on a
// missing function) costs nothing, then drops the triggers again: a table
// with triggers cannot move to another database. Events are left out: one
// could fire on the staged rows before the swap.
func (st *stage) rehearse(ctx context.Context, r *runner) error {
	for i := range r.held {
		f := &r.held[i]
		if f.Info.Kind != dumpfile.KindObjects || bytes.HasPrefix(f.Data, []byte("--\n-- EVENT ")) {
			continue
		}
		if err := sqlscript.CheckStatements(f); err != nil {
			return err
		}
		n := 0
		err := sqlscript.Split(f.Data, func(s sqlscript.Statement) error {
			n++
			if _, err := r.conn.ExecContext(ctx, string(s.Text)); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return &StatementError{Frame: f.Index + 1, Num: n, Offset: f.Offset + int64(s.Offset), Text: sqlscript.Head(s.Text), Err: err}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("create the dump's views, routines and triggers in the staging database: %w", err)
		}
	}
	triggers, err := queryNames(ctx, r.conn, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?", st.newDB)
	if err != nil {
		return fmt.Errorf("list the staged triggers: %w", err)
	}
	for _, t := range triggers {
		if _, err := r.conn.ExecContext(ctx, "DROP TRIGGER "+st.in(st.newDB, t)); err != nil {
			return fmt.Errorf("drop staged trigger %s: %w", t, err)
		}
	}
	return nil
}

// checkRows compares the rows the server took per table with the trailer's
// counts, the staged tables with the schema frames, and the rows each
// staged table holds with the trailer's counts.
func (r *runner) checkRows(ctx context.Context, tr *dumpfile.Trailer, database string) error {
	for _, ts := range tr.Tables {
		if got := r.loaded[ts.Name]; got != ts.Rows {
			return fmt.Errorf("%w: table %s: the server loaded %d rows, the dump's trailer says %d", ErrStatement, ts.Name, got, ts.Rows)
		}
	}
	var n int
	if err := r.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", database).Scan(&n); err != nil {
		return fmt.Errorf("count the staged tables: %w", err)
	}
	if n != r.res.Tables {
		return fmt.Errorf("%w: the staging database holds %d tables, the dump defines %d", ErrStatement, n, r.res.Tables)
	}
	return checkCounts(ctx, r.conn, database, tr)
}

// swap moves the staged tables into the target and runs the held frames
// there; on failure it puts the target back as it was.
func (st *stage) swap(ctx context.Context, r *runner, created bool) error {
	start := time.Now()
	views, err := st.plan(ctx, r.conn)
	if err != nil {
		return st.abandon(ctx, created, err)
	}
	// From here on a failure rolls back.
	if err := st.exchange(ctx, r, views); err != nil {
		// The rollback runs on a connection of its own: the swap's must
		// give up its table locks first.
		r.conn.ExecContext(ctx, "UNLOCK TABLES")
		if rerr := st.rollback(ctx); rerr != nil {
			st.log.Error("ROLLBACK INCOMPLETE: the target may differ from before the restore", "database", st.target,
				"replaced_tables_in", st.oldDB, "staged_tables_in", st.newDB, "err", rerr)
			return fmt.Errorf("%w; %w: putting %s back failed too: %v (its replaced tables are in %s, the restored ones in %s)", err, ErrTargetChanged, st.target, rerr, st.oldDB, st.newDB)
		}
		st.log.Info("swap rolled back; the target is as it was", "database", st.target)
		return st.abandon(ctx, created, err)
	}
	st.log.Debug("tables swapped in", "tables", len(st.incoming), "replaced", len(st.moved), "ms", time.Since(start).Milliseconds())
	st.finish(ctx, r.conn)
	return nil
}

// plan snapshots the target and works out the swap without changing the
// target: which tables move aside, which views stand where a table comes.
// It refuses a swap that a foreign key from outside the dump would follow.
func (st *stage) plan(ctx context.Context, conn *sql.Conn) (views []string, err error) {
	setup := []string{"COMMIT", fmt.Sprintf("SET SESSION lock_wait_timeout = %d", max(int(st.lockWait/time.Second), 1)),
		"USE " + sqlident.Quote(st.target)}
	for _, q := range setup {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("prepare the swap: %w", err)
		}
	}
	if st.before, err = takeInventory(ctx, conn, st.target); err != nil {
		return nil, err
	}
	if st.incoming, err = queryNames(ctx, conn, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW' ORDER BY TABLE_NAME", st.newDB); err != nil {
		return nil, fmt.Errorf("list the staged tables: %w", err)
	}
	for _, t := range st.incoming {
		switch st.before.tables[t] {
		case "":
		case "VIEW":
			views = append(views, t)
		default:
			st.moved = append(st.moved, t)
		}
	}
	if err := st.checkReferences(ctx, conn); err != nil {
		return nil, err
	}
	if len(st.moved) > 0 {
		if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+sqlident.Quote(st.oldDB)); err != nil {
			return nil, fmt.Errorf("create database %s: %w", st.oldDB, err)
		}
	}
	return views, nil
}

// abandon ends a swap that did not touch the target: it drops the staging
// database (holding the restored tables) and the target if it was created.
func (st *stage) abandon(ctx context.Context, created bool, err error) error {
	cerr := st.discard(ctx, created)
	if cerr == nil && len(st.moved) > 0 {
		cerr = dropDatabase(ctx, st.db, st.oldDB)
	}
	if cerr == nil {
		cerr = dropDatabase(ctx, st.db, st.swapDB())
	}
	if cerr != nil {
		return fmt.Errorf("%w (and removing the staging databases failed: %v; drop %s and %s by hand)", err, cerr, st.newDB, st.oldDB)
	}
	return err
}

// checkReferences refuses a swap that would carry a foreign key of a table
// outside the dump along with the table it refers to.
func (st *stage) checkReferences(ctx context.Context, conn *sql.Conn) error {
	if len(st.moved) == 0 {
		return nil
	}
	rows, err := conn.QueryContext(ctx, `SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, REFERENCED_TABLE_NAME
		FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE UNIQUE_CONSTRAINT_SCHEMA = ?
		ORDER BY CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME`, st.target)
	if err != nil {
		return fmt.Errorf("list foreign keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var schema, table, name, ref string
		if err := rows.Scan(&schema, &table, &name, &ref); err != nil {
			return fmt.Errorf("list foreign keys: %w", err)
		}
		if !slices.Contains(st.moved, ref) || (schema == st.target && slices.Contains(st.incoming, table)) {
			continue
		}
		return fmt.Errorf("%w: foreign key %s of table %s.%s refers to %s, which the restore replaces; a swap would point it at the old table (drop that key, or restore with --in-place)",
			ErrNotEmpty, name, schema, table, ref)
	}
	return rows.Err()
}

// exchange runs steps 2 to 4 of the swap. Nothing in the target changes
// before the journal is written and every table lock the swap needs is
// held: LOCK TABLES ... WRITE on the tables it moves out and in waits (up
// to --lock-wait-timeout) for other sessions, and the triggers are
// dropped and the tables moved (ALTER TABLE ... RENAME, the one rename
// allowed under LOCK TABLES) while it holds them, so no other session sees
// a step in between. Views that stand where a table comes cannot be
// dropped under LOCK TABLES: they go right after, and a kill there is for
// the journal to undo.
func (st *stage) exchange(ctx context.Context, r *runner, views []string) error {
	conn := r.conn
	on, err := triggerTables(ctx, conn, st.target)
	if err != nil {
		return err
	}
	if err := st.writeJournal(ctx, conn); err != nil {
		return err
	}
	r.step("journal written")
	if err := st.lockTables(ctx, conn, views); err != nil {
		return err
	}
	r.step("tables locked")
	if err := st.dropMovedTriggers(ctx, r, on); err != nil {
		return err
	}
	// MERGE tables cannot be renamed under LOCK TABLES once their
	// underlying tables moved: they move, in one RENAME, after the unlock.
	late, err := st.mergeTables(ctx, conn)
	if err != nil {
		return err
	}
	st.renamed = true // from here on the rollback looks where each table is
	if err := st.moveLocked(ctx, r, st.target, st.oldDB, st.moved, views, late); err != nil {
		return err
	}
	if err := st.moveLocked(ctx, r, st.newDB, st.target, st.incoming, views, late); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		return fmt.Errorf("unlock the swapped tables: %w", err)
	}
	r.step("tables unlocked")
	if err := st.dropViews(ctx, r, views); err != nil {
		return err
	}
	if err := st.moveLate(ctx, r, views, late); err != nil {
		return err
	}
	if err := st.repointSequences(ctx, conn); err != nil {
		return err
	}
	for i := range r.held {
		if err := r.frame(ctx, conn, &r.held[i]); err != nil {
			return err
		}
		r.step("objects created")
	}
	if err := st.markDone(ctx, conn); err != nil {
		return err
	}
	r.step("swap done")
	return nil
}

// dropMovedTriggers drops, on r's connection, each trigger of the target
// (on maps trigger to table) whose table the swap moves out: a trigger
// cannot leave its database. It runs under the swap's table locks.
func (st *stage) dropMovedTriggers(ctx context.Context, r *runner, on map[string]string) error {
	for name, table := range on {
		if !slices.Contains(st.moved, table) {
			continue
		}
		if _, err := r.conn.ExecContext(ctx, "DROP TRIGGER "+st.in(st.target, name)); err != nil {
			return fmt.Errorf("drop trigger %s: %w", name, err)
		}
		r.step("trigger dropped")
	}
	return nil
}

// moveLocked moves tables from database from to database to, one ALTER
// TABLE ... RENAME each, under the swap's table locks. It skips what must
// wait for the unlock (see moveLate): the MERGE tables in late (keyed by
// database and name) and, moving into the target, the tables that replace
// one of views.
func (st *stage) moveLocked(ctx context.Context, r *runner, from, to string, tables, views []string, late map[string]bool) error {
	for _, t := range tables {
		if (slices.Contains(views, t) && to == st.target) || late[from+"\x00"+t] {
			continue // after the unlock
		}
		if _, err := r.conn.ExecContext(ctx, "ALTER TABLE "+st.in(from, t)+" RENAME TO "+st.in(to, t)); err != nil {
			return fmt.Errorf("swap the tables in: move %s: %w", t, err)
		}
		r.step("table moved")
	}
	return nil
}

// dropViews drops views from the target, after the unlock: DROP VIEW is
// not allowed under LOCK TABLES.
func (st *stage) dropViews(ctx context.Context, r *runner, views []string) error {
	for _, v := range views {
		if _, err := r.conn.ExecContext(ctx, "DROP VIEW "+st.in(st.target, v)); err != nil {
			return fmt.Errorf("drop view %s: %w", v, err)
		}
		r.step("view dropped")
	}
	return nil
}

// moveLate moves, in one RENAME TABLE after the unlock, what moveLocked
// skipped: the MERGE tables in late, out of the target and in, and the
// incoming tables that replace one of views. It does nothing when there
// are none.
func (st *stage) moveLate(ctx context.Context, r *runner, views []string, late map[string]bool) error {
	var pairs []string
	for _, t := range st.moved {
		if late[st.target+"\x00"+t] {
			pairs = append(pairs, st.in(st.target, t)+" TO "+st.in(st.oldDB, t))
		}
	}
	for _, t := range st.incoming {
		if slices.Contains(views, t) || late[st.newDB+"\x00"+t] {
			pairs = append(pairs, st.in(st.newDB, t)+" TO "+st.in(st.target, t))
		}
	}
	if len(pairs) == 0 {
		return nil
	}
	if _, err := r.conn.ExecContext(ctx, "RENAME TABLE "+strings.Join(pairs, ", ")); err != nil {
		return fmt.Errorf("swap the tables in: %w", err)
	}
	r.step("late tables moved")
	return nil
}

// mergeTables returns the MERGE tables among those the swap moves, keyed
// by database and name.
func (st *stage) mergeTables(ctx context.Context, conn *sql.Conn) (map[string]bool, error) {
	rows, err := conn.QueryContext(ctx, `SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA IN (?, ?) AND ENGINE = 'MRG_MyISAM'`, st.target, st.newDB)
	if err != nil {
		return nil, fmt.Errorf("list MERGE tables: %w", err)
	}
	defer rows.Close()
	late := map[string]bool{}
	for rows.Next() {
		var db, name string
		if err := rows.Scan(&db, &name); err != nil {
			return nil, fmt.Errorf("list MERGE tables: %w", err)
		}
		late[db+"\x00"+name] = true
	}
	return late, rows.Err()
}

// lockTables takes a WRITE lock on every table the swap moves out of the
// target or into it (views excepted: they are dropped), waiting for other
// sessions up to the session's lock_wait_timeout.
func (st *stage) lockTables(ctx context.Context, conn *sql.Conn, views []string) error {
	var list []string
	for _, t := range st.moved {
		list = append(list, st.in(st.target, t)+" WRITE")
	}
	for _, t := range st.incoming {
		list = append(list, st.in(st.newDB, t)+" WRITE")
	}
	if len(list) == 0 {
		return nil
	}
	if _, err := conn.ExecContext(ctx, "LOCK TABLES "+strings.Join(list, ", ")); err != nil {
		return fmt.Errorf("lock the tables to swap: %w", err)
	}
	return nil
}

// repointSequences makes column defaults that call a sequence of the
// staging database (the server resolved NEXTVAL(s) there and keeps the
// database in the definition, across a RENAME) call the target's, which
// the sequence has just moved into. Changing a default rewrites no rows.
func (st *stage) repointSequences(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_DEFAULT FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND COLUMN_DEFAULT LIKE ?`, st.target, "%"+sqlident.Quote(st.newDB)+".%")
	if err != nil {
		return fmt.Errorf("look up sequence defaults: %w", err)
	}
	var alters []string
	for rows.Next() {
		var table, column, def string
		if err := rows.Scan(&table, &column, &def); err != nil {
			rows.Close()
			return fmt.Errorf("look up sequence defaults: %w", err)
		}
		def = strings.ReplaceAll(def, sqlident.Quote(st.newDB)+".", sqlident.Quote(st.target)+".")
		alters = append(alters, "ALTER TABLE "+st.in(st.target, table)+" ALTER COLUMN "+sqlident.Quote(column)+" SET DEFAULT ("+def+")")
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("look up sequence defaults: %w", err)
	}
	for _, q := range alters {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("point a default at the restored sequence (%s): %w", q, err)
		}
	}
	return nil
}

// finish drops the replaced tables and the emptied staging database. The
// restore has succeeded; a failure here only leaves a database to drop.
func (st *stage) finish(ctx context.Context, conn *sql.Conn) {
	conn.ExecContext(ctx, "SET FOREIGN_KEY_CHECKS = 0")
	drop := []string{st.newDB}
	if len(st.moved) > 0 {
		drop = append(drop, st.oldDB)
	}
	drop = append(drop, st.swapDB()) // last: until it goes, a recovery could find the journal
	for _, name := range drop {
		if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+sqlident.Quote(name)); err != nil {
			st.log.Warn("the restore is complete but a staging database is left: drop it by hand", "database", name, "err", err)
		}
	}
}

// rollback puts the target back as the inventory found it, on a
// connection of its own (the swap's may be the reason for the failure).
func (st *stage) rollback(ctx context.Context) error {
	conn, err := st.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, q := range []string{"USE " + sqlident.Quote(st.target), "SET FOREIGN_KEY_CHECKS = 0"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	now, err := schema.Objects(ctx, conn, st.target)
	if err != nil {
		return err
	}
	on, err := triggerTables(ctx, conn, st.target)
	if err != nil {
		return err
	}
	back, out, err := st.misplacedTables(ctx, conn)
	if err != nil {
		return err
	}
	if err := st.dropChangedObjects(ctx, conn, now, on, back); err != nil {
		return err
	}
	if err := st.renameBack(ctx, conn, back, out); err != nil {
		return err
	}
	st.renamed = false
	if err := st.recreateMissing(ctx, conn); err != nil {
		return err
	}
	after, err := takeInventory(ctx, conn, st.target)
	if err != nil {
		return err
	}
	if diff := st.before.diff(after); diff != "" {
		return fmt.Errorf("the target still differs: %s", diff)
	}
	return nil
}

// misplacedTables finds where each table of the swap is: back lists the
// incoming tables no longer in the staging database (they are in the
// target and must move back out), out the moved ones found in oldDB (out
// of the target, to bring back).
func (st *stage) misplacedTables(ctx context.Context, conn *sql.Conn) (back, out []string, err error) {
	inNew, err := tableSet(ctx, conn, st.newDB)
	if err != nil {
		return nil, nil, err
	}
	inOld, err := tableSet(ctx, conn, st.oldDB)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range st.incoming {
		if !inNew[t] {
			back = append(back, t)
		}
	}
	for _, t := range st.moved {
		if inOld[t] {
			out = append(out, t)
		}
	}
	return back, out, nil
}

// dropChangedObjects drops every object of the target (now, as listed
// before the rollback began) that is not in the snapshot as it was, and
// every trigger on a table in back (on maps trigger to table): a trigger
// cannot leave the database with its table.
func (st *stage) dropChangedObjects(ctx context.Context, conn *sql.Conn, now []schema.Object, on map[string]string, back []string) error {
	was := map[string]string{}
	for _, o := range st.before.objects {
		was[objectKey(o)] = o.SQL
	}
	for _, o := range now {
		sql, ok := was[objectKey(o)]
		if ok && sql == o.SQL && (o.Kind != "TRIGGER" || !slices.Contains(back, on[o.Name])) {
			continue
		}
		if err := dropObject(ctx, conn, o.Kind, st.in(st.target, o.Name)); err != nil {
			return fmt.Errorf("drop %s %s: %w", strings.ToLower(o.Kind), o.Name, err)
		}
	}
	return nil
}

// renameBack moves, in one RENAME TABLE, the tables in back from the
// target to the staging database (created again if it is gone) and those
// in out from oldDB to the target. It does nothing when both are empty.
func (st *stage) renameBack(ctx context.Context, conn *sql.Conn, back, out []string) error {
	if len(back)+len(out) == 0 {
		return nil
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+sqlident.Quote(st.newDB)); err != nil {
		return fmt.Errorf("rename the tables back: %w", err)
	}
	var pairs []string
	for _, t := range back {
		pairs = append(pairs, st.in(st.target, t)+" TO "+st.in(st.newDB, t))
	}
	for _, t := range out {
		pairs = append(pairs, st.in(st.oldDB, t)+" TO "+st.in(st.target, t))
	}
	if _, err := conn.ExecContext(ctx, "RENAME TABLE "+strings.Join(pairs, ", ")); err != nil {
		return fmt.Errorf("rename the tables back: %w", err)
	}
	return nil
}

// recreateMissing runs again the definition of every object of the
// snapshot the target lacks now, in dump order: routines, views,
// triggers, events.
func (st *stage) recreateMissing(ctx context.Context, conn *sql.Conn) error {
	now, err := schema.Objects(ctx, conn, st.target)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, o := range now {
		have[objectKey(o)] = true
	}
	for _, o := range st.before.objects {
		if have[objectKey(o)] {
			continue
		}
		err := sqlscript.Split([]byte(o.SQL), func(s sqlscript.Statement) error {
			_, err := conn.ExecContext(ctx, string(s.Text))
			return err
		})
		if err != nil {
			return fmt.Errorf("recreate %s %s: %w", strings.ToLower(o.Kind), o.Name, err)
		}
	}
	return nil
}

// tableSet returns the names of the tables and views of database (none
// when it does not exist).
func tableSet(ctx context.Context, conn *sql.Conn, database string) (map[string]bool, error) {
	names, err := queryNames(ctx, conn, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", database)
	if err != nil {
		return nil, fmt.Errorf("list the tables of %s: %w", database, err)
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set, nil
}

// triggerTables maps each trigger of database to its table.
func triggerTables(ctx context.Context, conn *sql.Conn, database string) (map[string]string, error) {
	rows, err := conn.QueryContext(ctx, "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?", database)
	if err != nil {
		return nil, fmt.Errorf("list the triggers of %s: %w", database, err)
	}
	defer rows.Close()
	on := map[string]string{}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			return nil, fmt.Errorf("list the triggers of %s: %w", database, err)
		}
		on[name] = table
	}
	return on, rows.Err()
}

// in names table (or object) name of database db.
func (st *stage) in(db, name string) string { return sqlident.Quote(db) + "." + sqlident.Quote(name) }

func objectKey(o schema.Object) string {
	kind := o.Kind
	if kind == "VIEW" {
		kind = "TABLE" // views and tables share names
	}
	return kind + "\x00" + o.Name
}

// takeInventory lists the tables and objects of database, which conn uses.
func takeInventory(ctx context.Context, conn *sql.Conn, database string) (inventory, error) {
	inv := inventory{tables: map[string]string{}}
	rows, err := conn.QueryContext(ctx, "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", database)
	if err != nil {
		return inv, fmt.Errorf("list the tables of %s: %w", database, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return inv, fmt.Errorf("list the tables of %s: %w", database, err)
		}
		inv.tables[name] = typ
	}
	if err := rows.Err(); err != nil {
		return inv, fmt.Errorf("list the tables of %s: %w", database, err)
	}
	if inv.objects, err = schema.Objects(ctx, conn, database); err != nil {
		return inv, fmt.Errorf("snapshot the objects of %s: %w", database, err)
	}
	return inv, nil
}

// diff describes how b differs from inv, or returns "".
func (inv inventory) diff(b inventory) string {
	var d []string
	for name, typ := range inv.tables {
		if b.tables[name] != typ {
			d = append(d, fmt.Sprintf("table %s is %q, was %q", name, b.tables[name], typ))
		}
	}
	for name := range b.tables {
		if _, ok := inv.tables[name]; !ok {
			d = append(d, "table "+name+" is new")
		}
	}
	was := map[string]string{}
	for _, o := range inv.objects {
		was[objectKey(o)] = o.SQL
	}
	for _, o := range b.objects {
		if sql, ok := was[objectKey(o)]; !ok || sql != o.SQL {
			d = append(d, strings.ToLower(o.Kind)+" "+o.Name+" differs")
		}
		delete(was, objectKey(o))
	}
	for k := range was {
		_, name, _ := strings.Cut(k, "\x00")
		d = append(d, name+" is missing")
	}
	slices.Sort(d)
	return strings.Join(d, "; ")
}

func dropDatabase(ctx context.Context, db *sql.DB, name string) error {
	_, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+sqlident.Quote(name))
	return err
}

// queryNames runs a query that returns one string per row.
func queryNames(ctx context.Context, conn *sql.Conn, query string, args ...any) ([]string, error) {
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// lockWaitError marks a lock wait timeout (error 1205) with ErrLockWait.
func lockWaitError(err error, wait time.Duration) error {
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1205 {
		return err
	}
	return fmt.Errorf("%w: %v (another session held a table the restore replaces for over %s: find it with SHOW PROCESSLIST, or raise --lock-wait-timeout)", ErrLockWait, err, wait)
}
