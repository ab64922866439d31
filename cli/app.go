// Package cli is lms-backup's command layer: the commands and their flags,
// help and examples, option precedence, progress and human output, and the
// one mapping of errors to the documented exit codes (exitCode). Engines
// (dump, restore, report, ...) take their Options and know no flag names.
// One file per command (cmd_*.go).
//
// It imports github.com/urfave/cli/v2, which also calls itself cli: in these
// files cli.X is always the library's.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/urfave/cli/v2"

	"lms-backup/binlog"
	"lms-backup/dbconn"
	"lms-backup/dump"
	"lms-backup/dumpfile"
	"lms-backup/fixture"
	"lms-backup/report"
	"lms-backup/restore"
	"lms-backup/rotate"
)

// version is set at build time with -ldflags "-X lms-backup/cli.version=...".
var version = "dev"

// Exit codes, documented in exitCodesHelp and the README; exitCode maps
// errors to them.
const (
	ExitOK          = 0
	ExitError       = 1   // unexpected error
	ExitUsage       = 2   // bad flag, argument or value
	ExitConnect     = 3   // server unreachable, access denied, unknown database
	ExitBadDump     = 4   // input is not a dump, or is damaged or truncated
	ExitOutput      = 5   // the output file could not be written
	ExitRestore     = 6   // the server rejected a statement, or the target database is not empty (restore, fixture)
	ExitMemory      = 7   // the work completed, but the peak heap exceeded --max-heap
	ExitBusy        = 8   // another run holds the folder's lock, or a table lock outlasted --lock-wait-timeout
	ExitGap         = 9   // the binary log archive has a gap, or holds a range a restore to a moment cannot replay
	ExitInterrupted = 130 // SIGINT or SIGTERM
)

const exitCodesHelp = `EXIT CODES:
   0    success
   1    unexpected error
   2    usage: bad flag, argument or value (a numeric option out of its range, 0 included;
        a database name the server refuses)
   3    connection: server unreachable, access denied, unknown database, connection lost mid-run
   4    bad dump file: not a dump, damaged, truncated, or not decryptable with --identity;
        or the bucket it is in could not be read
   5    output: the output file could not be written (folder, permissions, disk full;
        a bucket: credentials, missing bucket, endpoint down)
   6    target: the server rejected a statement, or the target database is not empty (restore, fixture)
   7    memory: the work completed, but the peak heap exceeded --max-heap
   8    busy: another dump of the database into the same folder is running, or a table
        stayed locked by another session past --lock-wait-timeout
   9    binary log archive: a gap (a file purged on the server before it was archived,
        segments that do not follow each other), or a statement in the range a restore
        to a moment would replay that cannot be replayed (the message names it)
   130  interrupted by SIGINT or SIGTERM (dump: nothing left under the final name;
        restore: the target database as it was, except with --in-place --force;
        binlog: the way to stop it, finished files archived, the rest resumable)`

// Stdio are the standard streams a run uses.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// Run runs the command line args (args[0] is the program's name) and
// returns the exit code: every error is mapped to its documented code here,
// in exitCode, and reported in one line (or one JSON log record) on
// stdio.Err. A cancel of ctx (SIGINT, SIGTERM) is exit 130.
func Run(ctx context.Context, args []string, stdio Stdio) int {
	env := &appEnv{stdout: stdio.Out, stderr: stdio.Err, stdin: stdio.In}
	env.out.start = time.Now()
	err := newApp(env).RunContext(ctx, args)
	if err == nil {
		err = env.notFound
	}
	code := exitCode(err, ctx.Err() != nil)
	if err != nil {
		env.reportError(err, code)
	}
	env.finishRun(code)
	return code
}

// appEnv is what commands share: standard streams and the logger built from
// the global flags.
type appEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	log            *slog.Logger
	jsonLogs       bool
	quiet          bool
	notFound       error  // an unknown command, which the CLI library does not return
	command        string // the command that runs, once its flags are parsed
	metricsFile    string // --metrics-file
	out            outcome
}

// errInput marks a dump that could not be read from where it is (a bucket
// that refuses the credentials, a missing object, an endpoint that does not
// answer): exit 4, like a damaged dump.
var errInput = errors.New("cannot read the dump")

// usageError marks a command line the user has to correct.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// outputError marks a failure to write the output file.
type outputError struct{ err error }

func (e outputError) Error() string { return e.err.Error() }
func (e outputError) Unwrap() error { return e.err }

// exitCode maps an error to its documented exit code.
func exitCode(err error, interrupted bool) int {
	var usage usageError
	var output outputError
	switch {
	case err == nil:
		return ExitOK
	case interrupted || errors.Is(err, context.Canceled):
		return ExitInterrupted
	// A damaged dump is the cause of whatever failed after it was read
	// (a statement, a lost session), so it is checked first.
	case errors.Is(err, dumpfile.ErrNotDump), errors.Is(err, dumpfile.ErrCorrupt), errors.Is(err, errInput), errors.Is(err, errDecrypt),
		errors.Is(err, binlog.ErrCorrupt):
		return ExitBadDump
	case errors.Is(err, binlog.ErrGap), errors.Is(err, binlog.ErrUnsafe):
		return ExitGap
	case errors.As(err, &usage), errors.Is(err, dbconn.ErrUsage), errors.Is(err, dump.ErrUsage), errors.Is(err, restore.ErrUsage),
		errors.Is(err, fixture.ErrUsage), errors.Is(err, report.ErrUsage), errors.Is(err, report.ErrTemplate),
		errors.Is(err, binlog.ErrOutOfRange), errors.Is(err, binlog.ErrNoBinlog), errors.Is(err, binlog.ErrNoStart):
		return ExitUsage
	case errors.Is(err, dbconn.ErrConnect), errors.Is(err, dbconn.ErrAuth), errors.Is(err, dbconn.ErrNoDatabase), errors.Is(err, dbconn.ErrLost),
		errors.Is(err, binlog.ErrAccess):
		return ExitConnect
	case errors.As(err, &output):
		return ExitOutput
	case errors.Is(err, restore.ErrStatement), errors.Is(err, restore.ErrNotEmpty), errors.Is(err, fixture.ErrExists),
		errors.Is(err, binlog.ErrReplay):
		return ExitRestore
	case errors.Is(err, errHeapExceeded):
		return ExitMemory
	case errors.Is(err, rotate.ErrBusy), errors.Is(err, dump.ErrLockWait), errors.Is(err, restore.ErrLockWait):
		return ExitBusy
	}
	return ExitError
}

// reportError prints the one line that says what went wrong and, for a
// run cut short by a signal or a lost connection, what it left behind.
func (e *appEnv) reportError(err error, code int) {
	msg := err.Error()
	if code == ExitInterrupted {
		msg = "interrupted: " + msg
	}
	if code == ExitInterrupted || errors.Is(err, dbconn.ErrLost) {
		if left := leftBehind(e.command, err); left != "" {
			msg += " (" + left + ")"
		}
	}
	if e.jsonLogs && e.log != nil {
		e.log.Error(msg, "exit_code", code)
		return
	}
	fmt.Fprintf(e.stderr, "lms-backup: %s\n", oneLine(msg))
}

// oneLine writes the control bytes of msg (a name from the database, a
// server's message) as \xNN, so that the error stays one line on stderr
// and no text from the database can forge a line of its own.
func oneLine(msg string) string {
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; c < 0x20 || c == 0x7f {
			fmt.Fprintf(&b, "\\x%02x", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// leftBehind says what a run of command that was cut short left behind;
// "" when there is nothing to say or err says it already.
func leftBehind(command string, err error) string {
	switch command {
	case "dump":
		return "nothing was written under the final name"
	case "report":
		return "nothing was written under the final names"
	case "binlog":
		return "every finished file is archived; the one being written stays in the spool, and the next run continues from its last complete event"
	case "restore":
		if errors.Is(err, restore.ErrTargetChanged) {
			return ""
		}
		return "the target database is as it was"
	}
	return ""
}

func newApp(env *appEnv) *cli.App {
	cli.HelpFlag = &cli.BoolFlag{Name: "help", Usage: "show help"}
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
	onUsage := func(c *cli.Context, err error, _ bool) error {
		return usageError{fmt.Errorf("%w (see %s --help)", err, c.Command.HelpName)}
	}
	app := &cli.App{
		Name:    "lms-backup",
		Usage:   "back up, verify and restore a loan-management MySQL/MariaDB database with bounded memory",
		Version: version,
		Writer:  env.stdout, ErrWriter: env.stderr, Reader: env.stdin,
		Description: `Dumps stream a database row by row from one consistent snapshot into ONE
compressed SQL file that lms-backup or the stock client restores into any
database name. Logs go to stderr; stdout carries only data.

EXAMPLES:
   lms-backup dump --database lms -o /var/backups/lms.sql.zst
   lms-backup verify /var/backups/lms.sql.zst
   lms-backup restore --database lms_copy --create-database /var/backups/lms.sql.zst
   zstd -dc /var/backups/lms.sql.zst | mariadb lms_copy

` + exitCodesHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format on stderr: text or json", EnvVars: []string{"LMS_LOG_FORMAT"}},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only warnings and errors; no progress"},
			&cli.StringFlag{Name: "metrics-file", EnvVars: []string{"LMS_METRICS_FILE"}, Destination: &env.metricsFile,
				Usage: "write the run's result for node_exporter's textfile collector to `PATH` (a .prom file, or a folder: one file per command and database); runs share it"},
		},
		Before: func(c *cli.Context) error {
			return env.setupLogging(c.String("log-format"), c.String("log-level"), c.Bool("quiet"))
		},
		Commands:       []*cli.Command{dumpCommand(env), restoreCommand(env), verifyCommand(env), binlogCommand(env), fixtureCommand(env), reportCommand(env)},
		OnUsageError:   onUsage,
		ExitErrHandler: func(*cli.Context, error) {},
		CommandNotFound: func(c *cli.Context, name string) {
			env.notFound = usagef("unknown command %q (see lms-backup --help)", name)
		},
	}
	for _, cmd := range app.Commands {
		cmd.OnUsageError = onUsage
		cmd.Before = func(c *cli.Context) error {
			env.command = c.Command.Name
			env.out.database = c.String("database") // a failed run's series too
			return checkRanges(c)
		}
	}
	return app
}

func (e *appEnv) setupLogging(format, level string, quiet bool) error {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return usagef("--log-level %q: use debug, info, warn or error", level)
	}
	if quiet && lv < slog.LevelWarn {
		lv = slog.LevelWarn
	}
	e.quiet = quiet
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		e.log = slog.New(slog.NewTextHandler(e.stderr, opts))
	case "json":
		e.jsonLogs = true
		e.log = slog.New(slog.NewJSONHandler(e.stderr, opts))
	default:
		return usagef("--log-format %q: use text or json", format)
	}
	mysql.SetLogger(driverLogger{e.log.With("component", "driver")})
	return nil
}

// driverLogger sends the MySQL driver's own messages (dropped connections,
// retries) to our log at debug level instead of bare lines on stderr.
type driverLogger struct{ log *slog.Logger }

func (d driverLogger) Print(v ...any) { d.log.Debug(fmt.Sprint(v...)) }
