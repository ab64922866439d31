package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"lms-backup/binlog"
	"lms-backup/dbconn"
	"lms-backup/storage"
)

// binlogFlags are the binlog command's own flags.
type binlogFlags struct {
	output    string
	spoolDir  string
	every     time.Duration
	startFile string
	replicaID uint
	stall     time.Duration
}

func binlogCommand(env *appEnv) *cli.Command {
	f := &binlogFlags{}
	return &cli.Command{
		Name:      "binlog",
		Usage:     "archive the server's binary log continuously, for restores to a moment",
		UsageText: "lms-backup binlog -o DIR/ [options]\n   lms-backup binlog -o s3://BUCKET/PREFIX/ --spool-dir DIR [options]",
		Description: `Runs until stopped (SIGTERM or SIGINT; run it as a service). It streams the
server's binary log as a replica would, with the stock mariadb-binlog
(--read-from-remote-server --raw --stop-never; package mariadb-client),
into DIR/.lms-binlog-spool/, and turns every finished binary log file into a
segment in DIR: lms-binlog.<file>.zst (age-encrypted with --encrypt-to) with
a manifest lms-binlog.<file>.json (positions, first and last event time,
GTIDs, server id, SHA-256). The file the server is still writing stays in the
spool, where a restore reads it: that is the recovery point.

With -o s3://BUCKET/PREFIX/ (the prefix the nightly dumps go to; AWS
settings as for dump) the segments go to the bucket, the spool is
--spool-dir, and the file being written is uploaded every --upload-every
(default 1m) as lms-binlog-partial.<file>.zst: restores from the bucket on
another machine reach that far.

It starts from the binary log file of the oldest dump in DIR (or
--start-file) and continues after a dropped connection or a server restart,
with backoff, from the last complete event it stored; a stream that
receives nothing for --stall-timeout while the server writes is restarted
too (a connection that died without closing). A file the server
purged before it was archived is a gap: it says so and exits 9, as it does
when segments do not follow each other.

The server needs log_bin, binlog_format=ROW and binlog_row_image=FULL
(other settings are warned about: a replay of one database is safe only with
them), and the account REPLICATION SLAVE and BINLOG MONITOR. The password
reaches mariadb-binlog in a 0600 option file, never in its arguments.

Restore to a moment with: lms-backup restore -D TARGET --until TIME DIR/
See what a folder can restore with: lms-backup verify DIR/

EXAMPLES:
   lms-backup binlog -o /var/backups/lms/ --defaults-file /etc/lms-backup/my.cnf
   lms-backup binlog -o /var/backups/lms/ --start-file binlog.000042
   lms-backup binlog -o /var/backups/lms/ --encrypt-to age1...
   lms-backup binlog -o s3://backups/lms/ --spool-dir /var/lib/lms-backup/spool

` + exitCodesHelp,
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Destination: &f.output, Usage: "the backup folder (the dumps' folder) to archive into (required)"},
			&cli.StringFlag{Name: "spool-dir", Destination: &f.spoolDir, Usage: "local folder for the file being written (default DIR/.lms-binlog-spool; required with s3://)"},
			&cli.DurationFlag{Name: "upload-every", Destination: &f.every, Usage: "with s3://: upload the file being written this often, so the bucket lags by at most this (default 1m; 0 for folders)"},
			&cli.StringFlag{Name: "start-file", Destination: &f.startFile, Usage: "binary log file to start from when the archive is empty (default: the oldest dump's); when the archive's next file was purged, a later file here accepts the gap"},
			&cli.DurationFlag{Name: "stall-timeout", Value: time.Minute, Destination: &f.stall, Usage: "restart mariadb-binlog when it received nothing for this long while the server wrote to its binary log (a connection that died silently)"},
			&cli.UintFlag{Name: "replica-server-id", Destination: &f.replicaID, Usage: "server id to connect with, unique among the server's replicas (default: mariadb-binlog's)"},
			identityFlag(),
		}, encryptFlags()...), append(connFlags(), memFlags()...)...),
		Action: func(c *cli.Context) error { return env.runBinlog(c, f) },
	}
}

func (e *appEnv) runBinlog(c *cli.Context, f *binlogFlags) error {
	if c.NArg() > 0 {
		return usagef("binlog takes no arguments (got %q): give the folder with -o", c.Args().First())
	}
	if f.output == "" {
		return usagef("--output (-o) is required: the backup folder that holds the dumps")
	}
	remote := storage.IsRemote(f.output)
	switch {
	case remote && f.spoolDir == "":
		return usagef("--spool-dir is required with -o s3://: a local folder for the file being written")
	case !remote && !isDir(f.output):
		return outputError{fmt.Errorf("--output %s: not a folder (create it first)", f.output)}
	case remote && !strings.HasSuffix(f.output, "/"):
		return usagef("--output %s: name the bucket prefix with a trailing slash (s3://BUCKET/PREFIX/)", f.output)
	case f.every < 0:
		return usagef("--upload-every must not be negative")
	}
	if remote && !c.IsSet("upload-every") {
		f.every = time.Minute
	}
	if f.stall < time.Second {
		return usagef("--stall-timeout must be at least 1s (e.g. 60s)")
	}
	if f.replicaID > 1<<32-1 {
		return usagef("--replica-server-id %d: use 1 to 4294967295", f.replicaID)
	}
	recips, err := recipients(c)
	if err != nil {
		return err
	}
	conn := e.connOptions(c, "")
	if err := conn.Validate(); err != nil {
		return err
	}
	cfg, err := conn.Config()
	if err != nil {
		return err
	}
	tls, err := conn.ClientTLS()
	if err != nil {
		return err
	}
	// The spool holds the server's data as mariadb-binlog writes it: no
	// other user may read it, whatever mode mariadb-binlog gives files.
	syscall.Umask(0o077)
	pl, err := e.openPlace(c, f.output, f.spoolDir, true)
	if err != nil {
		return err
	}
	lock, err := pl.store.Lock(c.Context, "lms-binlog", ownerDescription("binlog"))
	if err != nil {
		return storeOutputError(err)
	}
	defer lock.Unlock(context.WithoutCancel(c.Context))

	db, err := dbconn.Open(c.Context, conn)
	if err != nil {
		return err
	}
	defer db.Close()
	arch := e.archiveOf(c, pl)
	if len(recips) > 0 {
		arch.Seal = func(w io.Writer) (io.WriteCloser, error) { return age.Encrypt(w, recips...) }
	}
	start := f.startFile
	if start == "" {
		dumps, _, err := e.placeDumps(c, pl)
		if err != nil {
			return err
		}
		for _, d := range dumps {
			if d.header.BinlogFile != "" {
				start = d.header.BinlogFile
				break
			}
		}
	}
	spool := pl.spool
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return outputError{fmt.Errorf("create the spool: %w", err)}
	}
	a := &binlog.Archiver{Archive: arch, Spool: binlog.Spool{Dir: spool}, DB: db, Config: cfg, TLS: binlog.ClientTLS(tls),
		Log: e.log.With("component", "binlog"),
		Opts: binlog.ArchiverOptions{StartFile: start, ReplicaID: uint32(f.replicaID), StallTimeout: f.stall, UploadEvery: f.every,
			OnSegment: func(m binlog.Manifest) { e.out.rows += int64(m.Transactions) }}}
	if err := a.Check(c.Context); err != nil {
		return dbconn.Lost(err)
	}
	mem, err := e.startMem(c, "binlog", spool)
	if err != nil {
		return err
	}
	e.out.what = "archived the binary log into " + f.output
	return mem.finish(dbconn.Lost(a.Run(c.Context)))
}

// ownerDescription says who holds a lock: host, pid and command.
func ownerDescription(command string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("host=%s pid=%d command=%s", host, os.Getpid(), command)
}
