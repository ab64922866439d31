package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"lms-backup/atomicfile"
	"lms-backup/dbconn"
	"lms-backup/dump"
	"lms-backup/dumpfile"
	"lms-backup/memcap"
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

EXAMPLES:
   lms-backup dump --database lms -o /var/backups/lms.sql.zst
   lms-backup dump --defaults-file /etc/lms/backup.cnf -D lms -o lms.sql.gz
   MYSQL_PWD=... lms-backup dump -h db.internal -u backup -D lms -o - | ssh vault 'cat > lms.sql.zst'

` + exitCodesHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "database", Aliases: []string{"D"}, Usage: "database to dump (required)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output file, or - for stdout (required)"},
			&cli.StringFlag{Name: "compress", Usage: "zstd, gzip or none (default: from the extension, else zstd)"},
			&cli.StringFlag{Name: "definer", Value: "keep", Usage: "keep or strip the DEFINER of views, routines, triggers and events"},
			&cli.StringFlag{Name: "max-statement-size", Value: "1MiB", Usage: "upper bound of one extended INSERT (never above the server's max_allowed_packet)"},
		}, append(connFlags(), memFlags()...)...),
		Action: env.runDump,
	}
}

func (e *appEnv) runDump(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("dump takes no arguments (got %q): use --database DB -o FILE", c.Args().First())
	}
	opts := dump.Options{Database: c.String("database"), Definer: c.String("definer"), Tool: "lms-backup " + version}
	size, err := memcap.ParseSize(c.String("max-statement-size"))
	if err != nil {
		return usagef("--max-statement-size: %v", err)
	}
	opts.MaxStatement = int(size)
	out := c.String("output")
	if out == "" {
		return usagef("--output is required: a file path, or - for stdout")
	}
	if opts.Compression, err = outputCompression(c.String("compress"), out); err != nil {
		return err
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	conn := e.connOptions(c, opts.Database)
	if err := conn.Validate(); err != nil {
		return err
	}
	if out == "-" && opts.Compression != dumpfile.None && isTerminal(os.Stdout) {
		return usagef("refusing to write compressed data to a terminal: redirect stdout or use -o FILE")
	}

	// Create the output first: a bad path fails before the server is touched.
	var w *atomicfile.File
	if out != "-" {
		if st, err := os.Stat(out); err == nil && st.IsDir() {
			return usagef("--output %s is a folder: name a file in it", out)
		}
		if w, err = atomicfile.Create(out, 0o600); err != nil {
			return outputError{fmt.Errorf("%w (check that the folder exists and is writable)", err)}
		}
		defer w.Abort()
	}
	mem, err := e.startMem(c, "dump", outputDir(out))
	if err != nil {
		return err
	}
	return mem.finish(e.dump(c, opts, conn, out, w, mem))
}

// dump runs the dump itself under the memory guard.
func (e *appEnv) dump(c *cli.Context, opts dump.Options, conn dbconn.Options, out string, w *atomicfile.File, mem *memRun) error {
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
		prog.update("dump: table %d/%d %s, %d rows, %s written", p.TableIndex, p.Tables, p.Table, p.Rows, formatBytes(p.Written))
	}
	var dst = outputWriter{os.Stdout}
	if w != nil {
		dst = outputWriter{w}
	}
	res, err := dump.Run(c.Context, db, opts, dst, log)
	prog.done()
	if err != nil {
		return fmt.Errorf("dump %s: %w", opts.Database, err)
	}
	if w != nil {
		if err := w.Commit(); err != nil {
			return outputError{err}
		}
	}
	attrs := []any{"tables", len(res.Tables), "rows", res.Rows, "bytes", res.Written, "frames", res.Frames,
		"seconds", res.Duration.Seconds(), "output", out, "warnings", len(res.Warnings)}
	if res.Header.BinlogFile != "" {
		attrs = append(attrs, "binlog_file", res.Header.BinlogFile, "binlog_pos", res.Header.BinlogPos, "gtid", res.Header.GTID)
	}
	log.Info("dump complete", attrs...)
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
