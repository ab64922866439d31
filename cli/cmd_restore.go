package cli

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"lms-backup/dbconn"
	"lms-backup/dumpfile"
	"lms-backup/restore"
	"lms-backup/storage"
)

// restoreFlags are the restore command's own flags, bound into the
// engine's Options by their definitions.
type restoreFlags struct {
	opts    restore.Options
	recover bool
	// until, untilGTID and source choose a restore to a moment.
	until, untilGTID, source string
	spoolDir                 string
}

func restoreCommand(env *appEnv) *cli.Command {
	f := &restoreFlags{}
	return &cli.Command{
		Name:      "restore",
		Usage:     "load a dump into a database, atomically by default",
		UsageText: "lms-backup restore --database TARGET [options] [FILE|-]\n   lms-backup restore --database TARGET --until TIME|--until-gtid GTID [options] DIR/",
		Description: `Reads FILE (or stdin when FILE is - or missing; zstd, gzip or plain SQL,
detected from the first bytes; age-encrypted with --identity), checks every
frame before executing it, and loads it into TARGET, which may have any
name. TARGET must exist and be empty unless --create-database or --force
(which replaces tables, views, routines, triggers and events of the same
name and keeps the others).

The tables are loaded into a staging database (lms_restore_<id>_new) and moved
into TARGET only after every row loaded and the row counts match the dump's
trailer, under table locks taken before anything in TARGET changes; then the
dump's views, routines, triggers and events are created. If anything fails,
TARGET is put back exactly as it was (tables, rows and objects) and the
staging database is dropped. A journal of the swap lets the next restore
(or --recover) finish or undo a swap that a kill cut off. This needs
CREATE and DROP on lms_restore_* databases; --in-place loads straight into
TARGET instead (a failure then leaves a --force target half-restored).

With --until TIME (or --until-gtid) the argument is a backup folder that the
binlog command archives into: the restore takes the newest dump taken before
TIME, loads it into the staging database as above, replays the archived
binary log events of the dumped database from the dump's position up to
TIME (every transaction committed before TIME; --until-gtid: up to and with
that transaction) into the staging database, and swaps it in the same way.
TIME is "YYYY-MM-DD HH:MM:SS" in the server's time zone (@@time_zone), or
has an explicit offset ("2026-12-02 14:32:00+03:00", RFC 3339). A moment
outside what the folder can reach exits 2 and names the range. The replay
uses the stock mariadb-binlog and mariadb clients and needs the BINLOG
REPLAY privilege; it refuses (exit 9) a range that changes a view, routine,
trigger or event of the database, or has a statement that names the
database explicitly, and a range with a gap.

Rows load on --threads connections at once; plain secondary keys and foreign
keys of InnoDB tables are added after the rows, one ALTER TABLE per table.

EXAMPLES:
   lms-backup restore --database lms_copy --create-database lms.sql.zst
   lms-backup restore --database lms --force lms.sql.zst   (over the live database; it changes only when all loaded)
   ssh vault 'cat lms.sql.zst' | lms-backup restore -D lms_copy -
   lms-backup restore -D lms_copy --create-database --identity ~/backup.key lms.sql.zst.age
   lms-backup restore -D lms_copy --create-database s3://backups/lms/lms-20261202T023000Z.sql.zst
   lms-backup restore -D lms --recover            (after a kill -9 mid-swap: says whether lms is old or new)
   lms-backup restore -D lms_before --create-database --until '2026-12-02 14:31:00' /var/backups/lms/
   zstd -dc lms.sql.zst | mariadb lms_copy      (the stock client reads the same file)

` + exitCodesHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "database", Aliases: []string{"D"}, Destination: &f.opts.Database, Usage: "target database (required)"},
			&cli.BoolFlag{Name: "create-database", Destination: &f.opts.CreateDatabase, Usage: "create the target database if it does not exist, with the dumped database's default charset and collation"},
			&cli.StringFlag{Name: "create-database-charset", Destination: &f.opts.Charset, Usage: "with --create-database: the new database's default charset instead of the dumped one's"},
			&cli.StringFlag{Name: "create-database-collation", Destination: &f.opts.Collation, Usage: "with --create-database: the new database's default collation instead of the dumped one's"},
			&cli.BoolFlag{Name: "force", Destination: &f.opts.Force, Usage: "restore into a non-empty database, replacing objects of the same name"},
			&cli.IntFlag{Name: "threads", Value: runtime.NumCPU(), Destination: &f.opts.Threads, Usage: "connections that load rows at once, 1 to 64 (default: the number of cores)"},
			&cli.BoolFlag{Name: "in-place", Destination: &f.opts.InPlace, Usage: "load straight into TARGET instead of a staging database swapped in at the end"},
			&cli.BoolFlag{Name: "recover", Destination: &f.recover, Usage: "only finish a swap into TARGET that a killed restore left half-done (every restore does this first), say which state TARGET is in, and exit"},
			&cli.DurationFlag{Name: "lock-wait-timeout", Value: 60 * time.Second, Destination: &f.opts.LockWait, Usage: "give up (exit 8, TARGET unchanged) when another session holds a table the swap replaces longer than this"},
			&cli.StringFlag{Name: "until", Destination: &f.until, Usage: "restore to this moment from a backup folder: \"YYYY-MM-DD HH:MM:SS\" in the server's time zone, or with an offset"},
			&cli.StringFlag{Name: "until-gtid", Destination: &f.untilGTID, Usage: "restore from a backup folder up to and with this transaction (DOMAIN-SERVER-SEQUENCE)"},
			&cli.StringFlag{Name: "spool-dir", Destination: &f.spoolDir, Usage: "with --until from a bucket: the archiver's local spool, when it is on this machine (newer than the bucket's partial copy)"},
			&cli.StringFlag{Name: "source-database", Destination: &f.source, Usage: "with --until: the database whose dumps to use, when the folder holds dumps of several"},
			identityFlag(),
		}, append(connFlags(), memFlags()...)...),
		Action: func(c *cli.Context) error { return env.runRestore(c, f) },
	}
}

func (e *appEnv) runRestore(c *cli.Context, f *restoreFlags) error {
	opts := f.opts
	if opts.LockWait < time.Second {
		return usagef("--lock-wait-timeout must be at least 1s (e.g. 90s or 5m)")
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	if err := oneFileArg(c); err != nil {
		return err
	}
	conn := e.connOptions(c, "")
	if err := conn.Validate(); err != nil {
		return err
	}
	if f.recover {
		return e.recoverSwap(c, opts.Database, conn)
	}
	if f.until != "" || f.untilGTID != "" || f.source != "" || f.spoolDir != "" {
		return e.restoreUntil(c, f, conn)
	}
	if n, err := strconv.Atoi(os.Getenv(killSwapStepEnv)); err == nil {
		opts.AtSwapStep = func(step int, name string) {
			if step == n {
				e.log.Warn("killed at a swap step (test hook)", "step", step, "name", name)
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	}
	rd, name, err := e.openDump(c, c.Args().First())
	if err != nil {
		return err
	}
	defer rd.Close()
	mem, err := e.startMem(c, "restore", os.TempDir())
	if err != nil {
		return err
	}
	return mem.finish(e.restore(c, opts, conn, rd, name))
}

// killSwapStepEnv names a test hook: the restore SIGKILLs itself after
// that step of the atomic swap (1, 2, ...), as a kill -9, an OOM kill or
// a power loss would, so tests can check the journal at every step.
const killSwapStepEnv = "LMS_BACKUP_TEST_KILL_AT_SWAP_STEP"

// recoverSwap finishes an interrupted swap into target and says what
// state target is in.
func (e *appEnv) recoverSwap(c *cli.Context, target string, conn dbconn.Options) error {
	db, err := dbconn.Open(c.Context, conn)
	if err != nil {
		return err
	}
	defer db.Close()
	sc, err := db.Conn(c.Context)
	if err != nil {
		return dbconn.Lost(err)
	}
	defer sc.Close()
	done, err := restore.Recover(c.Context, db, sc, target, e.log.With("component", "restore", "database", target))
	if err != nil {
		return fmt.Errorf("recover %s: %w", target, dbconn.Lost(err))
	}
	if len(done) == 0 {
		fmt.Fprintf(e.stdout, "%s: no interrupted restore to finish\n", target)
	}
	for _, d := range done {
		state := "rolled back: the target is as it was before the interrupted restore"
		if d.Completed {
			state = "completed: the target holds the data the interrupted restore loaded"
		}
		fmt.Fprintf(e.stdout, "%s: %s (journal %s)\n", target, state, d.Journal)
	}
	return nil
}

// restore runs the restore itself under the memory guard.
func (e *appEnv) restore(c *cli.Context, opts restore.Options, conn dbconn.Options, rd dumpInput, name string) error {
	db, err := dbconn.Open(c.Context, conn)
	if err != nil {
		return err
	}
	defer db.Close()

	log := e.log.With("component", "restore", "database", opts.Database)
	log.Info("restore started", "server", conn.Describe(), "input", name, "compression", rd.Compression())
	prog := e.newProgress()
	var mu sync.Mutex
	text := "restore " + opts.Database
	opts.Progress = func(p restore.Progress) {
		mu.Lock()
		text = fmt.Sprintf("restore %s: %s, %d rows", opts.Database, p.Table, p.Rows)
		mu.Unlock()
	}
	stop := prog.watch(rd.read, rd.size, func() string { mu.Lock(); defer mu.Unlock(); return text })
	res, err := restore.Run(c.Context, db, opts, rd.Reader, log)
	stop()
	if err != nil {
		return fmt.Errorf("restore %s into %s: %w", name, opts.Database, dbconn.Lost(err))
	}
	log.Info("restore complete", "tables", res.Tables, "rows", res.Rows, "statements", res.Statements,
		"seconds", res.Duration.Seconds(), "source_database", res.Header.Database, "dumped", res.Header.Started)
	e.out.database, e.out.rows = opts.Database, res.Rows
	e.out.what = "restored " + name + " into " + opts.Database
	return nil
}

// dumpInput is a dump being read; Close closes the file too.
type dumpInput struct {
	*dumpfile.Reader
	file io.Closer
	read *atomic.Int64 // bytes of the file read so far, for progress
	size int64         // the file's size; 0 when unknown
}

func (d dumpInput) Close() error {
	d.Reader.Close()
	return d.file.Close()
}

// openDump opens a dump named on the command line ("" and "-" mean stdin),
// decrypts it with --identity when it is encrypted, and checks that it is
// a dump. It returns the name to use in messages.
func (e *appEnv) openDump(c *cli.Context, path string) (dumpInput, string, error) {
	var in io.ReadCloser = io.NopCloser(e.stdin)
	name := "stdin"
	var size int64 // 0: unknown (stdin)
	if storage.IsRemote(path) {
		rc, n, err := e.openObject(c, path)
		if err != nil {
			return dumpInput{}, "", err
		}
		in, name, size = rc, path, n
	} else if path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return dumpInput{}, "", usagef("open %s: %v (check the path)", path, unwrapPath(err))
		}
		st, err := f.Stat()
		if err == nil && st.IsDir() {
			f.Close()
			return dumpInput{}, "", usagef("%s is a folder: name a dump file", path)
		}
		if err == nil {
			size = st.Size()
		}
		in, name = f, path
	}
	read := new(atomic.Int64)
	plain, err := decrypting(c, readCloser{countingReader{in, read}, in}, name)
	if err != nil {
		in.Close()
		return dumpInput{}, "", err
	}
	rd, err := dumpfile.NewReader(plain)
	if err != nil {
		in.Close()
		return dumpInput{}, "", fmt.Errorf("read %s: %w", name, err)
	}
	return dumpInput{Reader: rd, file: in, read: read, size: size}, name, nil
}

// readCloser is a Reader with another value's Close.
type readCloser struct {
	io.Reader
	io.Closer
}

// oneFileArg checks that at most one argument follows the options. Options
// must come before FILE (the command line stops reading options there).
func oneFileArg(c *cli.Context) error {
	if c.NArg() <= 1 {
		return nil
	}
	for _, a := range c.Args().Slice()[1:] {
		if strings.HasPrefix(a, "-") && a != "-" {
			return usagef("option %s after the file: put all options before FILE", a)
		}
	}
	return usagef("%s takes one file (got %d arguments)", c.Command.Name, c.NArg())
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// openObject opens a dump in a bucket (s3://BUCKET/KEY) as a stream: a
// verify or restore reads it straight from the bucket, with no copy on
// local disk. A bucket that cannot be read is errInput (exit 4).
func (e *appEnv) openObject(c *cli.Context, loc string) (io.ReadCloser, int64, error) {
	cfg, err := e.storageConfig(c)
	if err != nil {
		return nil, 0, err
	}
	store, key, err := storage.Open(c.Context, loc, cfg)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", errInput, loc, err)
	}
	if key == "" {
		return nil, 0, usagef("%s names a prefix: name one dump in it (s3://BUCKET/PREFIX/NAME)", loc)
	}
	info, err := store.Stat(c.Context, key)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", errInput, loc, err)
	}
	rc, err := store.Open(c.Context, key)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", errInput, loc, err)
	}
	return rc, info.Size, nil
}
