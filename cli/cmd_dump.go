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

func dumpCommand(env *appEnv) *cli.Command {
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
			&cli.StringFlag{Name: "database", Aliases: []string{"D"}, Usage: "database to dump (required)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output file; a folder (DIR/) for nightly dumps named DB-YYYYMMDDTHHMMSSZ.sql.zst; s3://BUCKET/PREFIX/ (nightly, in a bucket) or s3://BUCKET/KEY; or - for stdout (required)"},
			&cli.IntFlag{Name: "keep", Usage: "with -o DIR/: after the new dump verified, keep only the newest N dumps of this database"},
			&cli.IntFlag{Name: "keep-days", Usage: "with -o DIR/: after the new dump verified, delete this database's dumps older than N days"},
			&cli.StringFlag{Name: "compress", Usage: "zstd, gzip or none (default: from the extension, else zstd)"},
			&cli.StringFlag{Name: "definer", Value: "keep", Usage: "keep or strip the DEFINER of views, routines, triggers and events"},
			&cli.BoolFlag{Name: "no-history", Usage: "dump only the current rows of system-versioned tables (by default every row version is dumped and restored)"},
			&cli.DurationFlag{Name: "lock-wait-timeout", Value: 300 * time.Second, Usage: "give up (exit 8) when another session holds a table lock longer than this, instead of waiting without end"},
			&cli.StringFlag{Name: "max-statement-size", Value: "1MiB", Usage: "upper bound of one extended INSERT, 4KiB to 1GiB (never above the server's max_allowed_packet)"},
			&cli.IntFlag{Name: "threads", Value: runtime.NumCPU(), Usage: "connections reading in parallel from one snapshot (needs the RELOAD privilege for a moment's global lock, else one connection is used); 1 to 64, 1 reads on one connection"},
			&cli.IntFlag{Name: "chunk-rows", Hidden: true, Usage: "rows per key-range chunk of a big table with --threads above 1 (default 100000)"},
		}, append(append(encryptFlags(), connFlags()...), memFlags()...)...),
		Action: env.runDump,
	}
}

func (e *appEnv) runDump(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("dump takes no arguments (got %q): use --database DB -o FILE", c.Args().First())
	}
	opts := dump.Options{Database: c.String("database"), Definer: c.String("definer"), NoHistory: c.Bool("no-history"), Tool: "lms-backup " + version,
		LockWait: c.Duration("lock-wait-timeout"), Threads: c.Int("threads"), ChunkRows: c.Int("chunk-rows")}
	if opts.LockWait < time.Second {
		return usagef("--lock-wait-timeout must be at least 1s (e.g. 90s or 5m)")
	}
	size, err := memcap.ParseSize(c.String("max-statement-size"))
	if err != nil {
		return usagef("--max-statement-size: %v", err)
	}
	opts.MaxStatement = int(size)
	out := c.String("output")
	if out == "" {
		return usagef("--output is required: a file path, a folder (DIR/), or - for stdout")
	}
	if storage.IsRemote(out) {
		return e.dumpToStore(c, opts, out)
	}
	// -o DIR/ (or an existing folder): a nightly folder of named dumps.
	var folder string
	if st, err := os.Stat(out); strings.HasSuffix(out, "/") || (err == nil && st.IsDir()) {
		folder = out
		if st, err := os.Stat(folder); err != nil || !st.IsDir() {
			return outputError{fmt.Errorf("--output %s: not a folder (create it first)", folder)}
		}
	}
	seal, err := recipients(c)
	if err != nil {
		return err
	}
	keep, keepDays := c.Int("keep"), c.Int("keep-days")
	if keep < 0 || keepDays < 0 {
		return usagef("--keep and --keep-days must be 0 or more")
	}
	if folder == "" && (keep > 0 || keepDays > 0) {
		return usagef("--keep and --keep-days rotate a folder of dumps: use -o DIR/")
	}
	if folder != "" {
		ext, err := nightlyExt(c, len(seal) > 0)
		if err != nil {
			return err
		}
		out = filepath.Join(folder, rotate.Name(opts.Database, time.Now(), ext))
	}
	if strings.HasSuffix(out, ".age") && len(seal) == 0 {
		return usagef("--output %s ends in .age but nothing says whom to encrypt to: pass --encrypt-to or --recipients-file", out)
	}
	if opts.Compression, err = outputCompression(c.String("compress"), strings.TrimSuffix(out, ".age")); err != nil {
		return err
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	conn := e.connOptions(c, opts.Database)
	if err := conn.Validate(); err != nil {
		return err
	}
	if out == "-" && opts.Compression != dumpfile.None && terminal(e.stdout) {
		return usagef("refusing to write compressed data to a terminal: redirect stdout or use -o FILE")
	}

	if folder != "" {
		lock, err := rotate.Acquire(folder, opts.Database)
		if errors.Is(err, rotate.ErrBusy) {
			return err
		}
		if err != nil {
			return outputError{fmt.Errorf("%w (check that the folder is writable)", err)}
		}
		defer lock.Close()
		swept, err := rotate.Sweep(folder, opts.Database)
		if err != nil {
			return outputError{fmt.Errorf("sweep %s: %w", folder, err)}
		}
		if len(swept) > 0 {
			e.log.Info("removed temporary files of an earlier run that was killed", "folder", folder, "files", swept)
		}
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
	// An encrypted dump cannot be read back without the secret key, which a
	// backup host should not have: in a folder it is verified as it is
	// written, from the stream that goes into the encryption.
	var verified *sqlscript.Report
	var tee *teeVerify
	if folder != "" && len(seal) > 0 {
		tee = newTeeVerify(c.Context)
	}
	if err := mem.finish(e.dump(c, opts, conn, out, w, mem, seal, tee)); err != nil {
		return err
	}
	if folder == "" {
		return nil
	}
	if tee != nil {
		verified = tee.report
	}
	return e.rotate(c, folder, out, opts.Database, rotate.Policy{Keep: keep, KeepDays: keepDays, Now: time.Now()}, verified)
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
func nightlyExt(c *cli.Context, sealed bool) (string, error) {
	comp, err := dumpfile.ParseCompression(cmp.Or(c.String("compress"), "zstd"))
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
