package restore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"lms-backup/internal/sqlident"
	"lms-backup/schema"
)

// The swap's journal makes the swap recoverable after a kill at any
// moment (SIGKILL, an OOM kill, power loss, a crashed server).
//
// Before the swap changes anything in the target it writes, in a database
// of its own (lms_restore_<id>_swap, one InnoDB table, committed), what it
// is about to do and everything needed to undo it: the target's tables and
// the SQL of every view, routine, trigger and event it holds (the
// inventory), the tables it moves aside and brings in. When the swap is
// complete it marks the journal done, then removes its databases.
//
// The next restore of that target (or `restore --recover`) finds a journal
// whose run is dead (its owner lock free, see ownerLock) and finishes it:
// a done swap only leaves databases to drop; any other is rolled back,
// judging from where each table actually is (the journal's step may lag
// the last DDL by one), and the target is compared with the journal's
// inventory. Either way it says in one line which state the target is in.

// swapSuffix ends the name of a swap's journal database.
const swapSuffix = "_swap"

// journalState is how far a swap got.
type journalState string

const (
	journalSwapping journalState = "swapping" // the target may be changing
	journalDone     journalState = "done"     // the target is the restored one
)

// journalBody is what a journal records, as JSON.
type journalBody struct {
	Target   string            `json:"target"`
	NewDB    string            `json:"new"`
	OldDB    string            `json:"old"`
	Moved    []string          `json:"moved"`    // the target's tables moved to OldDB
	Incoming []string          `json:"incoming"` // the staged tables moved into the target
	Tables   map[string]string `json:"tables"`   // the target's tables before: name -> TABLE_TYPE
	Objects  []schema.Object   `json:"objects"`  // the target's objects before
}

func (st *stage) swapDB() string { return strings.TrimSuffix(st.newDB, "_new") + swapSuffix }

// writeJournal records the swap durably before it changes the target.
func (st *stage) writeJournal(ctx context.Context, conn *sql.Conn) error {
	body, err := json.Marshal(journalBody{Target: st.target, NewDB: st.newDB, OldDB: st.oldDB, Moved: st.moved,
		Incoming: st.incoming, Tables: st.before.tables, Objects: st.before.objects})
	if err != nil {
		return fmt.Errorf("write the swap's journal: %w", err)
	}
	db := sqlident.Quote(st.swapDB())
	for _, q := range []string{
		"CREATE DATABASE " + db,
		"CREATE TABLE " + db + ".`journal` (`id` INT PRIMARY KEY, `state` VARCHAR(16) NOT NULL, `body` LONGBLOB NOT NULL) ENGINE=InnoDB",
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("write the swap's journal: %w", err)
		}
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO "+db+".`journal` VALUES (1, ?, ?)", string(journalSwapping), body); err != nil {
		return fmt.Errorf("write the swap's journal: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("write the swap's journal: %w", err)
	}
	return nil
}

// markDone records that the target is the restored one.
func (st *stage) markDone(ctx context.Context, conn *sql.Conn) error {
	q := "UPDATE " + sqlident.Quote(st.swapDB()) + ".`journal` SET `state` = ? WHERE `id` = 1"
	if _, err := conn.ExecContext(ctx, q, string(journalDone)); err != nil {
		return fmt.Errorf("mark the swap done: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("mark the swap done: %w", err)
	}
	return nil
}

// Recovered says what Recover did with one interrupted swap.
type Recovered struct {
	Journal string // the journal's database
	// Completed: the swap had finished, the target is the restored data;
	// otherwise it was rolled back and the target is as before that restore.
	Completed bool
}

// Recover finishes every swap into database target that a dead run left
// (see the journal above), on conn, and reports what it did. A swap whose
// run is alive is left alone. An error means a journal could not be
// finished; its databases are then kept for a later attempt.
func Recover(ctx context.Context, db *sql.DB, conn *sql.Conn, target string, log *slog.Logger) ([]Recovered, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	names, err := queryNames(ctx, conn, `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?`,
		strings.ReplaceAll(StagePrefix, "_", `\_`)+"%"+strings.ReplaceAll(swapSuffix, "_", `\_`))
	if err != nil {
		return nil, fmt.Errorf("look for interrupted swaps: %w", err)
	}
	var done []Recovered
	for _, name := range names {
		var holder sql.NullInt64
		lock := strings.TrimSuffix(name, swapSuffix)
		if err := conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", lock).Scan(&holder); err != nil {
			return done, fmt.Errorf("look for interrupted swaps: %w", err)
		}
		if holder.Valid {
			continue // a live run's
		}
		var state string
		var raw []byte
		err := conn.QueryRowContext(ctx, "SELECT `state`, `body` FROM "+sqlident.Quote(name)+".`journal` WHERE `id` = 1").Scan(&state, &raw)
		if err == sql.ErrNoRows {
			// Killed between creating the journal and committing it:
			// nothing in any target changed yet.
			if _, err := conn.ExecContext(ctx, "DROP DATABASE "+sqlident.Quote(name)); err != nil {
				return done, fmt.Errorf("drop the empty journal %s: %w", name, err)
			}
			continue
		}
		if err != nil {
			return done, fmt.Errorf("read the journal %s: %w", name, err)
		}
		var b journalBody
		if err := json.Unmarshal(raw, &b); err != nil {
			return done, fmt.Errorf("read the journal %s: %w", name, err)
		}
		if b.Target != target {
			continue
		}
		st := &stage{db: db, target: b.Target, newDB: b.NewDB, oldDB: b.OldDB, log: log,
			before: inventory{tables: b.Tables, objects: b.Objects}, moved: b.Moved, incoming: b.Incoming}
		rec := Recovered{Journal: name, Completed: journalState(state) == journalDone}
		if !rec.Completed {
			if err := st.rollback(ctx); err != nil {
				return done, fmt.Errorf("%w: roll back the interrupted restore of %s (journal %s): %v; its replaced tables are in %s, the restored ones in %s",
					ErrStatement, target, name, err, b.OldDB, b.NewDB)
			}
			log.Warn("an interrupted restore's swap was rolled back: the target is as it was before that restore", "database", target, "journal", name)
		} else {
			log.Warn("an interrupted restore had completed its swap: the target holds the data it restored; removing its leftovers", "database", target, "journal", name)
		}
		for _, d := range []string{b.NewDB, b.OldDB, name} {
			if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+sqlident.Quote(d)); err != nil {
				return done, fmt.Errorf("drop %s after recovering the interrupted restore: %w", d, err)
			}
		}
		done = append(done, rec)
	}
	return done, nil
}
