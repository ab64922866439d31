package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"lms-backup/atomicfile"
	"lms-backup/dbconn"
	"lms-backup/report"
	"lms-backup/report/model"
	"lms-backup/report/pdf"
	"lms-backup/report/xlsx"
)

// reportGCPercent is the report's GOGC unless the environment sets one.
// Its live heap is mostly the PDF's pages, which gopdf holds until Close
// (bounded by --pdf-max-rows), and the Go default of 100 lets the heap
// grow to twice that before a collection: at fixture scale 100, 58-63 MiB
// of heap and 100-108 MiB RSS. 50 gives 45-48 MiB and 77-82 MiB for about
// 0.2-0.3 s more CPU (twice the collections of a small live heap).
const reportGCPercent = 50

// reportFlags are the report command's own flags, bound by their
// definitions.
type reportFlags struct {
	database, month, out, format, lang, template string
	pdfMaxRows, threads                          int
}

func reportCommand(env *appEnv) *cli.Command {
	flags := &reportFlags{}
	return &cli.Command{
		Name:      "report",
		Usage:     "build the month's loan report as an Excel workbook and a PDF",
		UsageText: "lms-backup report --database DB --month YYYY-MM [--out DIR] [--format xlsx,pdf] [--lang ar|en] [options]",
		Description: `Runs the report definition (built in: templates/loans.json; or --template
FILE) for one month inside one read-only snapshot and streams every row to
loans-YYYY-MM.xlsx and loans-YYYY-MM.pdf in --out. The queries run on
--threads connections that share the snapshot; each part's rows pass
through a temp file in --out and are never held whole; the PDF shows at
most --pdf-max-rows rows per table (the workbook has them all). Files
appear only when complete (mode 0600). A month without any data still gets
a report, with a warning.

EXAMPLES:
   lms-backup report --database lms --month 2024-03
   lms-backup report -D lms --month 2024-03 --lang en --format pdf --out /srv/reports
   lms-backup report -D other_fund --month 2024-03 --template /etc/lms/report.json

` + exitCodesHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "database", Aliases: []string{"D"}, Destination: &flags.database, Usage: "database to report on (required)"},
			&cli.StringFlag{Name: "month", Destination: &flags.month, Usage: "the month, YYYY-MM (required)"},
			&cli.StringFlag{Name: "out", Value: ".", Destination: &flags.out, Usage: "folder for the report files"},
			&cli.StringFlag{Name: "format", Value: "xlsx,pdf", Destination: &flags.format, Usage: "comma-separated: xlsx, pdf"},
			&cli.StringFlag{Name: "lang", Value: "ar", Destination: &flags.lang, Usage: "ar (right to left) or en"},
			&cli.StringFlag{Name: "template", Destination: &flags.template, Usage: "report definition file (JSON, like templates/loans.json)"},
			&cli.IntFlag{Name: "pdf-max-rows", Value: 2000, Destination: &flags.pdfMaxRows, Usage: "rows per table in the PDF; the rest are in the workbook only"},
			&cli.IntFlag{Name: "threads", Value: report.DefaultConnections, Destination: &flags.threads,
				Usage: "connections that run the report's queries side by side in one snapshot (needs the RELOAD privilege; else one)"},
		}, append(connFlags(), memFlags()...)...),
		Action: func(c *cli.Context) error { return env.runReport(c, flags) },
	}
}

func (e *appEnv) runReport(c *cli.Context, flags *reportFlags) error {
	if c.NArg() > 0 {
		return usagef("report takes no arguments (got %q)", c.Args().First())
	}
	database := flags.database
	if database == "" {
		return usagef("--database is required")
	}
	if flags.month == "" {
		return usagef("--month is required, e.g. --month 2024-03")
	}
	opts := report.Options{Month: flags.month, Lang: flags.lang, Connections: flags.threads}
	if err := opts.Validate(); err != nil {
		return err
	}
	formats := map[string]bool{}
	for _, f := range strings.Split(flags.format, ",") {
		switch f = strings.TrimSpace(strings.ToLower(f)); f {
		case "xlsx", "pdf":
			formats[f] = true
		default:
			return usagef("--format %q: use xlsx, pdf or xlsx,pdf", f)
		}
	}
	if flags.threads < 1 {
		return usagef("--threads must be 1 or more")
	}
	if flags.pdfMaxRows < 1 {
		return usagef("--pdf-max-rows must be 1 or more (use --format xlsx for no PDF)")
	}
	out := flags.out
	if st, err := os.Stat(out); err != nil || !st.IsDir() {
		return outputError{fmt.Errorf("--out %s is not a folder (create it first)", out)}
	}
	// The template is checked before anything is written.
	tpl, err := report.LoadTemplate(flags.template)
	if err != nil {
		return usageError{err}
	}
	conn := e.connOptions(c, database)
	if err := conn.Validate(); err != nil {
		return err
	}
	mem, err := e.startMem(c, "report", out)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(reportGCPercent))
	}
	return mem.finish(e.report(c, tpl, opts, conn, formats, out, flags.pdfMaxRows, mem))
}

func (e *appEnv) report(c *cli.Context, tpl *report.Template, opts report.Options, conn dbconn.Options,
	formats map[string]bool, out string, pdfMaxRows int, mem *memRun) error {
	db, err := dbconn.Open(c.Context, conn)
	if err != nil {
		return err
	}
	defer db.Close()

	var files []*atomicfile.File
	var writers []model.Writer
	closed := false
	defer func() {
		if !closed { // a failed run: release the writers' temp files and pages
			for _, w := range writers {
				w.Discard()
			}
		}
		for _, f := range files {
			f.Abort() // no-op after Commit
		}
	}()
	base := filepath.Join(out, "loans-"+opts.Month)
	for _, f := range []string{"xlsx", "pdf"} {
		if !formats[f] {
			continue
		}
		file, err := e.createOutput(base + "." + f)
		if err != nil {
			return outputError{err}
		}
		files = append(files, file)
		if f == "xlsx" {
			// Sheet data goes to temp files next to the report, not to /tmp
			// (often a tmpfs, which is memory).
			writers = append(writers, xlsx.New(outputFile{file}, xlsx.Options{TmpDir: out}))
		} else {
			writers = append(writers, pdf.New(outputWriter{file}, pdf.Options{MaxRows: pdfMaxRows}))
		}
	}
	log := e.log.With("component", "report", "database", conn.Database, "month", opts.Month)
	log.Info("report started", "server", conn.Describe(), "out", out, "lang", opts.Lang)
	prog := e.newProgress()
	seen := map[string]bool{}
	opts.Progress = func(part string, rows int64) {
		seen[part] = true // the parts run one after another: the ones before this are done
		prog.bar(int64(len(seen)-1), int64(len(tpl.Parts)), "parts", fmt.Sprintf("report %s: %s, %d rows", opts.Month, part, rows))
	}
	opts.TmpDir = out // the parts' spool files, like the sheets' temp files: not /tmp, often a tmpfs
	res, err := report.Run(c.Context, db, tpl, opts, conn.Database, writers, log)
	prog.done()
	if err != nil {
		return fmt.Errorf("report %s: %w", opts.Month, dbconn.Lost(err))
	}
	closed = true
	if err := closeWriters(writers, files, log); err != nil {
		return fmt.Errorf("report %s: %w", opts.Month, err)
	}
	var names []string
	for _, f := range files {
		if err := f.Commit(); err != nil {
			return outputError{err}
		}
		names = append(names, f.Name())
	}
	if res.Empty {
		log.Warn("the month has no loans, payments or installments: the report is empty (check --month and --database)")
	}
	attrs := []any{"files", strings.Join(names, ",")}
	for k, n := range res.Rows {
		attrs = append(attrs, k, n)
	}
	log.Info("report complete", attrs...)
	e.out.database, e.out.what = conn.Database, "report "+opts.Month+" of "+conn.Database+": "+strings.Join(names, ", ")
	for _, n := range res.Rows {
		e.out.rows += n
	}
	for _, f := range names {
		if st, err := os.Stat(f); err == nil {
			e.out.bytes += st.Size()
		}
	}
	return nil
}

// cpuSeconds is the user and system CPU time of the process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// closeWriters closes the writers side by side, each in a goroutine of
// its own: they share nothing, and finishing the workbook (deflating
// every sheet) and the PDF (footers, fonts, output) is the report's tail,
// after the last row. It returns the writers' errors, joined.
func closeWriters(writers []model.Writer, files []*atomicfile.File, log *slog.Logger) error {
	start, cpu := time.Now(), cpuSeconds()
	errs := make([]error, len(writers))
	var wg sync.WaitGroup
	for i, w := range writers {
		wg.Go(func() {
			t := time.Now()
			if err := w.Close(); err != nil {
				errs[i] = fmt.Errorf("write %s: %w", files[i].Name(), err)
			}
			log.Debug("file written", "file", files[i].Name(), "client", time.Since(t).Seconds())
		})
	}
	wg.Wait()
	// Nothing else runs meanwhile: the process's CPU is the writers'.
	log.Debug("files written", "client", time.Since(start).Seconds(), "cpu", cpuSeconds()-cpu)
	return errors.Join(errs...)
}
