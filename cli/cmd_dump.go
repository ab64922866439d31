package cli

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"lms-backup/dbconn"
	"lms-backup/dump"
	"lms-backup/dumpfile"
	"lms-backup/dumpfile/sqlscript"
	"lms-backup/memcap"
	"lms-backup/rotate"
	"lms-backup/storage"
)

// dumpFlags are the dump command's own flags, bound by their definitions;
// checkDump validates them once into a dumpRun.
type dumpFlags struct {
	database, output, compress, definer, maxStatement string
	noHistory                                         bool
	keep, keepDays, threads, chunkRows                int
	lockWait                                          time.Duration
}

// dumpRun is a dump's checked settings.
type dumpRun struct {
	opts     dump.Options
	conn     dbconn.Options
	output   string // as given: a file, -, DIR/ or s3://...
	compress string // --compress
	seal     []age.Recipient
	policy   rotate.Policy // --keep/--keep-days
}

func dumpCommand(env *appEnv) *cli.Command {
	f := &dumpFlags{}
	return &cli.Command{
		Name:      "dump",
		Usage:     "stream a database into one compressed SQL file from one consistent snapshot",
		UsageText: "lms-backup dump --database DB -o FILE [options]",
		Description: `Reads every table row by row inside one REPEATABLE READ snapshot and writes
tables, data, routines, views, triggers and events as SQL that restores into
any database name. The file appears under its name only when complete
(mode 0600); a failed or interrupted dump leaves the previous file untouched.
Compression follows --compress, else the extension (.zst, .gz, .sql), else zstd.

With --threads N (default: the number of CPUs) N connections read in
parallel, big tables in key ranges, all from one snapshot: commits are
blocked for a moment (BACKUP STAGE BLOCK_COMMIT, else FLUSH TABLES WITH
READ LOCK; this needs the RELOAD privilege) while the connections start
it. Without RELOAD, or when another session holds a lock longer than
min(--lock-wait-timeout, 30s), the dump says so and uses one connection.
The dump header's "consistency" says which happened.

EXAMPLES:
   lms-backup dump --database lms -o /var/backups/lms.sql.zst
   lms-backup dump --defaults-file /etc/lms/backup.cnf -D lms -o lms.sql.gz
   MYSQL_PWD=... lms-backup dump -h db.internal -u backup -D lms -o - | ssh vault 'cat > lms.sql.zst'
   lms-backup --log-format json dump -D lms -o /var/backups/lms/ --keep 14   (nightly, from cron)
   lms-backup dump -D lms -o /var/backups/lms/ --recipients-file /etc/lms/backup.recipients
   lms-backup dump -D lms -o lms.sql.zst --threads 1   (one connection, no global lock)
   AWS_ENDPOINT_URL=https://s3.example.net lms-backup dump -D lms -o s3://backups/lms/ --keep 14
                                                   (a bucket; AWS_ACCESS_KEY_ID etc. as for every S3 tool)

` + exitCodesHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "database", Aliases: []string{"D"}, Destination: &f.database, Usage: "database to dump (required)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Destination: &f.output, Usage: "output file; a folder (DIR/) for nightly dumps named DB-YYYYMMDDTHHMMSSZ.sql.zst; s3://BUCKET/PREFIX/ (nightly, in a bucket) or s3://BUCKET/KEY; or - for stdout (required)"},
			&cli.IntFlag{Name: "keep", Destination: &f.keep, Usage: "with -o DIR/: after the new dump verified, keep only the newest N dumps of this database"},
			&cli.IntFlag{Name: "keep-days", Destination: &f.keepDays, Usage: "with -o DIR/: after the new dump verified, delete this database's dumps older than N days"},
			&cli.StringFlag{Name: "compress", Destination: &f.compress, Usage: "zstd, gzip or none (default: from the extension, else zstd)"},
			&cli.StringFlag{Name: "definer", Value: "keep", Destination: &f.definer, Usage: "keep or strip the DEFINER of views, routines, triggers and events"},
			&cli.BoolFlag{Name: "no-history", Destination: &f.noHistory, Usage: "dump only the current rows of system-versioned tables (by default every row version is dumped and restored)"},
			&cli.DurationFlag{Name: "lock-wait-timeout", Value: 300 * time.Second, Destination: &f.lockWait, Usage: "give up (exit 8) when another session holds a table lock longer than this, instead of waiting without end"},
			&cli.StringFlag{Name: "max-statement-size", Value: "1MiB", Destination: &f.maxStatement, Usage: "upper bound of one extended INSERT, 4KiB to 1GiB (never above the server's max_allowed_packet)"},
			&cli.IntFlag{Name: "threads", Value: runtime.NumCPU(), Destination: &f.threads, Usage: "connections reading in parallel from one snapshot (needs the RELOAD privilege for a moment's global lock, else one connection is used); 1 to 64, 1 reads on one connection"},
			&cli.IntFlag{Name: "chunk-rows", Hidden: true, Destination: &f.chunkRows, Usage: "rows per key-range chunk of a big table with --threads above 1 (default 100000)"},
		}, append(append(encryptFlags(), connFlags()...), memFlags()...)...),
		Action: func(c *cli.Context) error { return env.runDump(c, f) },
	}
}

func (e *appEnv) runDump(c *cli.Context, f *dumpFlags) error {
	run, err := e.checkDump(c, f)
	if err != nil {
		return err
	}
	switch {
	case storage.IsRemote(run.output):
		return e.dumpToStore(c, run)
	case strings.HasSuffix(run.output, "/") || isDir(run.output):
		return e.dumpToFolder(c, run)
	}
	return e.dumpToFile(c, run)
}

// checkDump validates the flags that every kind of output shares.
func (e *appEnv) checkDump(c *cli.Context, f *dumpFlags) (dumpRun, error) {
	if c.NArg() > 0 {
		return dumpRun{}, usagef("dump takes no arguments (got %q): use --database DB -o FILE", c.Args().First())
	}
	run := dumpRun{output: f.output, compress: f.compress, opts: dump.Options{Database: f.database, Definer: f.definer, NoHistory: f.noHistory,
		Tool: "lms-backup " + version, LockWait: f.lockWait, Threads: f.threads, ChunkRows: f.chunkRows}}
	if f.lockWait < time.Second {
		return run, usagef("--lock-wait-timeout must be at least 1s (e.g. 90s or 5m)")
	}
	size, err := memcap.ParseSize(f.maxStatement)
	if err != nil {
		return run, usagef("--max-statement-size: %v", err)
	}
	run.opts.MaxStatement = int(size)
	if f.output == "" {
		return run, usagef("--output is required: a file path, a folder (DIR/), or - for stdout")
	}
	if run.seal, err = recipients(c); err != nil {
		return run, err
	}
	if f.keep < 0 || f.keepDays < 0 {
		return run, usagef("--keep and --keep-days must be 0 or more")
	}
	run.policy = rotate.Policy{Keep: f.keep, KeepDays: f.keepDays}
	run.conn = e.connOptions(c, f.database)
	return run, nil
}

// checkOutput settles the compression for the output named name and
// validates the engine's and the connection's options: the last checks
// before any I/O.
func (run *dumpRun) checkOutput(c *cli.Context, name string) error {
	if strings.HasSuffix(name, ".age") && len(run.seal) == 0 {
		return usagef("--output %s ends in .age but nothing says whom to encrypt to: pass --encrypt-to or --recipients-file", name)
	}
	var err error
	if run.opts.Compression, err = outputCompression(run.compress, strings.TrimSuffix(name, ".age")); err != nil {
		return err
	}
	if err := run.opts.Validate(); err != nil {
		return err
	}
	return run.conn.Validate()
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// dumpToFile dumps into one file, or to stdout for -o -.
func (e *appEnv) dumpToFile(c *cli.Context, run dumpRun) error {
	if run.policy.Keep > 0 || run.policy.KeepDays > 0 {
		return usagef("--keep and --keep-days rotate a folder of dumps: use -o DIR/")
	}
	if err := run.checkOutput(c, run.output); err != nil {
		return err
	}
	out := run.output
	if out == "-" && run.opts.Compression != dumpfile.None && terminal(e.stdout) {
		return usagef("refusing to write compressed data to a terminal: redirect stdout or use -o FILE")
	}
	// Create the output first: a bad path fails before the server is touched.
	var w outputObject
	if out != "-" {
		f, err := e.createOutput(out)
		if err != nil {
			return outputError{fmt.Errorf("%w (check that the folder exists and is writable)", err)}
		}
		defer f.Abort()
		w = f
	}
	mem, err := e.startMem(c, "dump", outputDir(out))
	if err != nil {
		return err
	}
	return mem.finish(e.dump(c, run.opts, run.conn, out, w, mem, run.seal, nil))
}

// dumpToFolder writes a nightly dump into a folder: a named file under the
// database's lock, killed runs' temporary files swept, the new dump
// verified, then the old ones rotated.
func (e *appEnv) dumpToFolder(c *cli.Context, run dumpRun) error {
	folder := run.output
	if !isDir(folder) {
		return outputError{fmt.Errorf("--output %s: not a folder (create it first)", folder)}
	}
	ext, err := nightlyExt(run.compress, len(run.seal) > 0)
	if err != nil {
		return err
	}
	out := filepath.Join(folder, rotate.Name(run.opts.Database, time.Now(), ext))
	if err := run.checkOutput(c, out); err != nil {
		return err
	}
	lock, err := rotate.Acquire(folder, run.opts.Database)
	if errors.Is(err, rotate.ErrBusy) {
		return err
	}
	if err != nil {
		return outputError{fmt.Errorf("%w (check that the folder is writable)", err)}
	}
	defer lock.Close()
	swept, err := rotate.Sweep(folder, run.opts.Database)
	if err != nil {
		return outputError{fmt.Errorf("sweep %s: %w", folder, err)}
	}
	if len(swept) > 0 {
		e.log.Info("removed temporary files of an earlier run that was killed", "folder", folder, "files", swept)
	}
	f, err := e.createOutput(out)
	if err != nil {
		return outputError{fmt.Errorf("%w (check that the folder exists and is writable)", err)}
	}
	defer f.Abort()
	mem, err := e.startMem(c, "dump", folder)
	if err != nil {
		return err
	}
	// An encrypted dump cannot be read back without the secret key, which a
	// backup host should not have: it is verified as it is written, from
	// the stream that goes into the encryption.
	var tee *teeVerify
	if len(run.seal) > 0 {
		tee = newTeeVerify(c.Context)
	}
	if err := mem.finish(e.dump(c, run.opts, run.conn, out, f, mem, run.seal, tee)); err != nil {
		return err
	}
	var verified *sqlscript.Report
	if tee != nil {
		verified = tee.report
	}
	run.policy.Now = time.Now()
	return e.rotate(c, folder, out, run.opts.Database, run.policy, verified)
}

// rotate verifies the new dump in a nightly folder and only then deletes
// the old dumps the policy does not keep.
func (e *appEnv) rotate(c *cli.Context, folder, out, db string, p rotate.Policy, rep *sqlscript.Report) error {
	if rep == nil {
		f, err := os.Open(out)
		if err != nil {
			return outputError{err}
		}
		defer f.Close()
		rd, err := dumpfile.NewReader(f)
		if err != nil {
			return fmt.Errorf("verify the new dump %s: %w (old dumps were kept)", out, err)
		}
		defer rd.Close()
		if rep, err = sqlscript.Verify(c.Context, rd); err != nil {
			return fmt.Errorf("verify the new dump %s: %w (old dumps were kept)", out, err)
		}
	}
	removed, err := rotate.Prune(folder, db, p)
	if err != nil {
		return outputError{fmt.Errorf("rotate %s: %w", folder, err)}
	}
	if len(removed) > 0 {
		segs, err := e.pruneSegments(c, &place{store: storage.NewFolder(folder), loc: folder})
		if err != nil {
			return outputError{fmt.Errorf("rotate the binary log segments in %s: %w", folder, err)}
		}
		removed = append(removed, segs...)
	}
	e.log.Info("nightly dump verified and rotated", "file", out, "rows", rep.Rows, "frames", rep.Frames,
		"deleted", removed, "keep", p.Keep, "keep_days", p.KeepDays)
	return nil
}

// dump runs the dump itself under the memory guard.
func (e *appEnv) dump(c *cli.Context, opts dump.Options, conn dbconn.Options, out string, w outputObject, mem *memRun,
	seal []age.Recipient, tee *teeVerify) error {
	db, err := dbconn.Open(c.Context, conn)
	if err != nil {
		return err
	}
	defer db.Close()
	opts.FrameSize = mem.guard.Batch("dump_frame_bytes", 1<<20, 256<<10).Size
	opts.PageRows = mem.guard.Batch("dump_page_rows", 20000, 500).Size

	log := e.log.With("component", "dump", "database", opts.Database)
	log.Info("dump started", "server", conn.Describe(), "output", out, "compression", opts.Compression)
	prog := e.newProgress()
	opts.Progress = func(p dump.Progress) {
		prog.bar(p.Rows, p.Estimated, "rows", fmt.Sprintf("dump: table %d/%d %s, %s written", p.TableIndex, p.Tables, p.Table, formatBytes(p.Written)))
	}
	var dst io.Writer = outputWriter{e.stdout}
	if w != nil {
		dst = outputWriter{w}
	}
	var enc io.WriteCloser
	if len(seal) > 0 {
		if enc, err = age.Encrypt(dst, seal...); err != nil {
			return fmt.Errorf("start encryption: %w", err)
		}
		dst = enc
	}
	if tee != nil {
		dst = io.MultiWriter(dst, tee)
	}
	res, err := dump.Run(c.Context, db, opts, dst, log)
	prog.done()
	if err == nil && enc != nil {
		if cerr := enc.Close(); cerr != nil { // writes the last, authenticated chunk
			err = outputError{fmt.Errorf("finish encryption: %w", cerr)}
		}
	}
	if tee != nil {
		if verr := tee.wait(err); err == nil && verr != nil {
			err = fmt.Errorf("verify the new dump as it was written: %w (old dumps were kept)", verr)
		}
	}
	if err != nil {
		return fmt.Errorf("dump %s: %w", opts.Database, dbconn.Lost(err))
	}
	if w != nil {
		if err := w.Commit(); err != nil {
			return outputError{err}
		}
	}
	attrs := []any{"tables", len(res.Tables), "rows", res.Rows, "bytes", res.Written, "frames", res.Frames,
		"seconds", res.Duration.Seconds(), "output", out, "warnings", len(res.Warnings), "consistency", res.Header.Consistency}
	if res.Header.BinlogFile != "" {
		attrs = append(attrs, "binlog_file", res.Header.BinlogFile, "binlog_pos", res.Header.BinlogPos, "gtid", res.Header.GTID)
	}
	log.Info("dump complete", attrs...)
	e.out.database, e.out.bytes, e.out.rows = opts.Database, res.Written, res.Rows
	e.out.what = "dumped " + opts.Database + " to " + out
	return nil
}

// outputCompression resolves --compress against the output's extension.
func outputCompression(flag, out string) (dumpfile.Compression, error) {
	byExt, known := dumpfile.CompressionFor(out)
	if flag == "" {
		if known {
			return byExt, nil
		}
		return dumpfile.Zstd, nil
	}
	c, err := dumpfile.ParseCompression(flag)
	if err != nil {
		return "", usagef("--compress: %v", err)
	}
	if known && out != "-" && c != byExt {
		return "", usagef("--compress %s does not match the extension of %s (%s): change one of them", c, out, byExt)
	}
	return c, nil
}

// nightlyExt is the extension of a dump in a nightly folder or prefix:
// from --compress (zstd by default), .age when encrypted.
func nightlyExt(compress string, sealed bool) (string, error) {
	comp, err := dumpfile.ParseCompression(cmp.Or(compress, "zstd"))
	if err != nil {
		return "", usagef("--compress: %v", err)
	}
	ext := map[dumpfile.Compression]string{dumpfile.Zstd: ".sql.zst", dumpfile.Gzip: ".sql.gz", dumpfile.None: ".sql"}[comp]
	if sealed {
		ext += ".age"
	}
	return ext, nil
}

// outputObject is where a dump goes: an atomic file or an object in a
// store; nothing is under its final name before Commit.
type outputObject interface {
	io.Writer
	Commit() error
}
