package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"lms-backup/dumpfile/sqlscript"
	"lms-backup/storage"
)

func verifyCommand(env *appEnv) *cli.Command {
	var asJSON bool
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a dump file without a server",
		UsageText: "lms-backup verify [--json] FILE|-\n   lms-backup verify DIR/",
		Description: `Decompresses the whole file and checks every frame's checksum, the order of
the frames, the trailer that marks a finished dump, and the row count of
every table (markers, trailer and the INSERT statements themselves must
agree). Prints a summary on stdout; a truncated or damaged file exits 4.

Given a backup folder, it reports what a restore to a moment can use: the
dumps and their binary log positions, the archived binary log (every
segment's checksum is checked), the file still being spooled, the earliest
and latest moment a restore can reach, and gaps (exit 9).

EXAMPLES:
   lms-backup verify /var/backups/lms.sql.zst
   lms-backup verify --json lms.sql.gz | jq .rows
   lms-backup verify --identity ~/backup.key lms.sql.zst.age
   lms-backup verify /var/backups/lms/
   lms-backup verify s3://backups/lms/

` + exitCodesHelp,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "json", Destination: &asJSON, Usage: "print the summary as JSON"},
			&cli.StringFlag{Name: "spool-dir", Usage: "with a bucket prefix: the archiver's local spool, when it is on this machine"},
			identityFlag(),
		}, memFlags()...),
		Action: func(c *cli.Context) error { return env.runVerify(c, asJSON) },
	}
}

func (e *appEnv) runVerify(c *cli.Context, asJSON bool) error {
	if c.NArg() == 0 {
		return usagef("verify takes one file, or - for stdin")
	}
	if err := oneFileArg(c); err != nil {
		return err
	}
	if arg := c.Args().First(); isDir(arg) || storage.IsRemote(arg) && strings.HasSuffix(arg, "/") {
		p, err := e.openPlace(c, arg, c.String("spool-dir"), false)
		if err != nil {
			return err
		}
		return e.verifyPlace(c, p)
	}
	rd, name, err := e.openDump(c, c.Args().First())
	if err != nil {
		return err
	}
	defer rd.Close()
	mem, err := e.startMem(c, "verify", os.TempDir())
	if err != nil {
		return err
	}
	stop := e.newProgress().watch(rd.read, rd.size, func() string { return "verify " + name })
	rep, err := sqlscript.Verify(c.Context, rd.Reader)
	stop()
	if err != nil {
		return mem.finish(fmt.Errorf("verify %s: %w", name, err))
	}
	if err := mem.finish(nil); err != nil {
		return err
	}
	if asJSON {
		out := map[string]any{
			"file": name, "ok": true, "compression": rep.Compression, "frames": rep.Frames,
			"statements": rep.Statements, "tables": rep.Tables, "rows": rep.Rows, "uncompressed_bytes": rep.Bytes,
			"header": rep.Header, "trailer": rep.Trailer,
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(e.stdout, "%s: OK: database %s dumped %s from %s (%s); %d tables, %d rows, %d statements in %d frames (%s, %s uncompressed)\n",
		name, rep.Header.Database, rep.Header.Started.Format("2006-01-02 15:04:05Z"), rep.Header.ServerVersion, rep.Header.Consistency,
		rep.Tables, rep.Rows, rep.Statements, rep.Frames, rep.Compression, formatBytes(rep.Bytes))
	return nil
}
