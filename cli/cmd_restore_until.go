package cli

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"lms-backup/binlog"
	"lms-backup/dbconn"
	"lms-backup/dumpfile"
)

// restoreUntil restores a backup folder to a moment: the newest dump
// before it, then the archived binary log up to it, replayed into the
// staging database before the swap.
func (e *appEnv) restoreUntil(c *cli.Context, f *restoreFlags, conn dbconn.Options) error {
	opts := f.opts
	switch {
	case f.until != "" && f.untilGTID != "":
		return usagef("give --until or --until-gtid, not both")
	case f.until == "" && f.untilGTID == "":
		return usagef("--source-database and --spool-dir go with --until or --until-gtid")
	case c.NArg() != 1:
		return usagef("a restore to a moment reads a backup folder: name it (lms-backup restore -D %s --until TIME DIR/)", opts.Database)
	case opts.InPlace:
		return usagef("a restore to a moment needs the staging database: drop --in-place")
	}
	pl, err := e.openPlace(c, c.Args().First(), f.spoolDir, false)
	if err != nil {
		return err
	}
	var target binlog.Target
	if f.untilGTID != "" {
		g, err := binlog.ParseGTID(f.untilGTID)
		if err != nil {
			return usagef("--until-gtid: %v", err)
		}
		target.UntilGTID = g
	}
	db, err := dbconn.Open(c.Context, conn)
	if err != nil {
		return err
	}
	defer db.Close()
	if f.until != "" {
		if target.Until, err = parseMoment(c.Context, db, f.until); err != nil {
			return err
		}
	}
	dumps, _, err := e.placeDumps(c, pl)
	if err != nil {
		return err
	}
	source, err := sourceDatabase(dumps, f.source)
	if err != nil {
		return err
	}
	af, err := e.readArchive(c, pl)
	if err != nil {
		return err
	}
	loc := serverZone(c.Context, db)
	d, err := pickDump(dumps, source, target, loc)
	if err != nil {
		return fmt.Errorf("%w (%s)", err, restorableRange(dumps, af, loc))
	}
	if err := af.checkFrom(d.header.BinlogFile); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "lms-restore-binlog-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	plan, err := e.planReplay(c, af, pl, tmp, d, source, target)
	if err != nil {
		return fmt.Errorf("%w (%s)", err, restorableRange(dumps, af, loc))
	}
	cfg, err := conn.Config()
	if err != nil {
		return err
	}
	tls, err := conn.ClientTLS()
	if err != nil {
		return err
	}
	log := e.log.With("component", "restore", "database", opts.Database)
	log.Info("restore to a moment", "dump", d.name, "from", plan.From.String(), "stop", plan.Stop.String(),
		"transactions", plan.Transactions, "skipped_other_databases", plan.Other)
	opts.Replay = func(ctx context.Context, staging string) error {
		if plan.Transactions == 0 {
			return nil
		}
		return binlog.Replay(ctx, plan, binlog.ReplayOptions{Config: cfg, TLS: binlog.ClientTLS(tls), Staging: staging, TempDir: tmp,
			Client: os.Getenv(replayClientEnv)})
	}
	rd, name, err := e.openDump(c, d.path)
	if err != nil {
		return err
	}
	defer rd.Close()
	mem, err := e.startMem(c, "restore", os.TempDir())
	if err != nil {
		return err
	}
	if err := mem.finish(e.restore(c, opts, conn, rd, name)); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, describePlan(opts.Database, d, plan, loc))
	return nil
}

// replayClientEnv names a test hook: the program to run instead of the
// stock mariadb client for the replay, so tests can make a replay fail
// after the dump is staged.
const replayClientEnv = "LMS_BACKUP_TEST_REPLAY_CLIENT"

// describePlan is the line that says where the restore stopped.
func describePlan(target string, d dumpRef, p *binlog.Plan, loc *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: restored dump %s (taken %s) and replayed %d transactions of %s from %s",
		oneLine(target), oneLine(d.name), moment(d.header.Started, loc), p.Transactions, oneLine(p.Database), p.From)
	if !p.Last.IsZero() {
		fmt.Fprintf(&b, "; the last transaction before the stop is GTID %s, committed %s", p.Last, moment(p.LastTime, loc))
	}
	if !p.Next.IsZero() {
		fmt.Fprintf(&b, "; stopped at %s before GTID %s, committed %s", p.Stop, p.Next, moment(p.NextTime, loc))
	} else {
		fmt.Fprintf(&b, "; stopped at %s", p.Stop)
	}
	return b.String()
}

// parseMoment reads --until: with an offset or in RFC 3339 it is exact;
// "YYYY-MM-DD HH:MM:SS" is in the server's time zone, which the server
// converts.
func parseMoment(ctx context.Context, db *sql.DB, s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05 Z07:00", "2006-01-02 15:04:05 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if _, err := time.Parse(time.DateTime, s); err != nil {
		return time.Time{}, usagef("--until %q: write \"YYYY-MM-DD HH:MM:SS\" (the server's time zone) or add an offset (\"2026-12-02 14:32:00+03:00\")", s)
	}
	var unix sql.NullInt64
	err := db.QueryRowContext(ctx, "SELECT UNIX_TIMESTAMP(CONVERT_TZ(?, @@global.time_zone, @@session.time_zone))", s).Scan(&unix)
	if err != nil {
		return time.Time{}, fmt.Errorf("convert --until to the server's time zone: %w", err)
	}
	if unix.Valid {
		return time.Unix(unix.Int64, 0).UTC(), nil
	}
	// Outside the TIMESTAMP range (1970 to 2038) the server converts
	// nothing: take its zone's offset today.
	var offset sql.NullInt64
	err = db.QueryRowContext(ctx, "SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', @@global.time_zone))").Scan(&offset)
	if err != nil || !offset.Valid {
		return time.Time{}, usagef("--until %q: the server cannot place it in its time zone; add an offset (\"%s+03:00\")", s, s)
	}
	t, _ := time.Parse(time.DateTime, s)
	return t.Add(-time.Duration(offset.Int64) * time.Second).UTC(), nil
}

// serverZone is the server's time zone as it is now (its offset), for
// the moments a restore to a moment prints: the user gave --until in it.
// The local zone when the server does not say.
func serverZone(ctx context.Context, db *sql.DB) *time.Location {
	var offset sql.NullInt64
	err := db.QueryRowContext(ctx, "SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', @@global.time_zone))").Scan(&offset)
	if err != nil || !offset.Valid {
		return time.Local
	}
	return time.FixedZone("server", int(offset.Int64))
}

// pickDump is the newest dump of source that precedes the target and
// records a binary log position.
func pickDump(dumps []dumpRef, source string, target binlog.Target, loc *time.Location) (dumpRef, error) {
	var best *dumpRef
	for i := range dumps {
		d := &dumps[i]
		if d.header.Database != source || d.header.BinlogFile == "" {
			continue
		}
		if !target.Until.IsZero() && !d.header.Started.Before(target.Until) {
			continue
		}
		if !target.UntilGTID.IsZero() && !dumpBefore(d.header, target.UntilGTID) {
			continue
		}
		best = d
	}
	if best == nil {
		if !target.Until.IsZero() {
			return dumpRef{}, fmt.Errorf("%w: no dump of %s with a binary log position was taken before %s", binlog.ErrOutOfRange, source, moment(target.Until, loc))
		}
		return dumpRef{}, fmt.Errorf("%w: no dump of %s with a binary log position precedes transaction %s", binlog.ErrOutOfRange, source, target.UntilGTID)
	}
	return *best, nil
}

// dumpBefore reports whether the dump's snapshot precedes transaction g:
// its GTID position in g's domain is lower.
func dumpBefore(h dumpfile.Header, g binlog.GTID) bool {
	for _, s := range strings.Split(h.GTID, ",") {
		if pg, err := binlog.ParseGTID(strings.TrimSpace(s)); err == nil && pg.Domain == g.Domain {
			return pg.Seq < g.Seq
		}
	}
	return true
}

// planReplay fetches the archived files from the dump's on, one at a time,
// until the plan finds its stop.
func (e *appEnv) planReplay(c *cli.Context, af *archivedFiles, where *place, tmp string, d dumpRef, source string, target binlog.Target) (*binlog.Plan, error) {
	fe := &fetcher{af: af, arch: e.archiveOf(c, where), tmp: tmp}
	fe.skipTo(d.header.BinlogFile)
	from := binlog.Position{File: d.header.BinlogFile, Pos: d.header.BinlogPos}
	return binlog.PlanReplay(func() (binlog.LocalFile, bool, error) { return fe.next(c.Context) }, from, target, source)
}
