package report

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"lms-backup/internal/sqlident"
	"lms-backup/paginate"
	"lms-backup/report/model"
	"lms-backup/snapshot"
)

// ErrUsage marks invalid options.
var ErrUsage = errors.New("report: invalid options")

// Options configure a report run. Zero values mean defaults.
type Options struct {
	// Month is the report month, YYYY-MM (required).
	Month string
	// Lang is "ar" (default) or "en".
	Lang string
	// PageRows, when set, reads each part in keyset pages of the size it
	// returns before each page. nil means one query per part, ordered by
	// its key: the spool (see Run) already keeps the server from waiting
	// for the writers, and pages cost the server more (measured at fixture
	// scale 100: the overdue part 4.6 s in 23 pages against 1.1 s as one
	// query, whose plan is a scan and a sort instead of an index walk).
	PageRows func() int
	// Progress, when set, is called every few thousand rows and at the end
	// of each part.
	Progress func(part string, rows int64)
	// Now gives the generation time; nil means time.Now.
	Now func() time.Time
	// Connections is how many connections read in the one snapshot; 0
	// means DefaultConnections.
	Connections int
	// TmpDir holds the parts' spool files (unlinked at once; see spool);
	// "" means os.TempDir().
	TmpDir string
}

// DefaultConnections is the number of connections a report reads on when
// Options.Connections is 0: two queries at a time keep a 2-core server
// busy while the writers encode.
const DefaultConnections = 2

// Validate checks the options without I/O.
func (o Options) Validate() error {
	if _, err := ParseMonth(o.Month); err != nil {
		return err
	}
	switch o.Lang {
	case "", "ar", "en":
	default:
		return fmt.Errorf("%w: --lang %q: use ar or en", ErrUsage, o.Lang)
	}
	return nil
}

// ParseMonth parses YYYY-MM into the first instant of that month, UTC.
func ParseMonth(s string) (time.Time, error) {
	m, err := time.Parse("2006-01", s)
	if err != nil || len(s) != 7 {
		return time.Time{}, fmt.Errorf("%w: --month %q: write the month as YYYY-MM, e.g. 2024-03", ErrUsage, s)
	}
	if m.Year() < 1000 {
		return time.Time{}, fmt.Errorf("%w: --month %q: the year must have four digits", ErrUsage, s)
	}
	return m, nil
}

// Result summarises a report run.
type Result struct {
	Rows  map[string]int64 // rows per part
	Empty bool             // no part had a row and every count was zero
	// Snapshot says how the connections share the snapshot ("single",
	// "backup-stage", ...) and Fallback, when not "", why the report ran
	// on one connection although more were asked for.
	Snapshot, Fallback string
	Connections        int
}

// errStopped cancels the queries still running when Run returns early.
var errStopped = errors.New("report: stopped")

// Run builds the report for o.Month from db with template t and streams it
// to every writer (Begin, parts, EndPart; the caller closes the writers).
// Every query runs in one read-only REPEATABLE READ snapshot, so the
// summary and the detail parts agree: on o.Connections connections that
// share it (see package snapshot), or on one when the server refuses the
// lock that aligns them. All SQL of the template is prepared on the
// server before the first writer call, so a broken template fails before
// any output.
//
// The queries (summary figures, aging, daily sums, then the parts in
// order) go to whichever connection is free next, so the server answers
// two of them at a time while the writers encode. A part's rows pass
// through a spool file in o.TmpDir (see spool): the connection reading a
// part never waits for the writers, and the writers take its rows in
// order as they arrive, after the summary is complete.
func Run(ctx context.Context, db *sql.DB, t *Template, o Options, database string, writers []model.Writer, log *slog.Logger) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Lang == "" {
		o.Lang = "ar"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Connections <= 0 {
		o.Connections = DefaultConnections
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	month, _ := ParseMonth(o.Month)
	next := month.AddDate(0, 1, 0)
	r := strings.NewReplacer(
		":month_start", "'"+month.Format("2006-01-02 15:04:05")+"'",
		":month_end", "'"+next.Format("2006-01-02 15:04:05")+"'")

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	g, err := snapshot.Open(ctx, db, snapshot.Options{
		Conns: o.Connections,
		Setup: []string{"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"},
		Start: "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
	}, log)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if g.Fallback != "" {
		log.Info("the report reads on one connection", "reason", g.Fallback)
	}
	res := &Result{Rows: map[string]int64{}, Snapshot: g.Method, Fallback: g.Fallback, Connections: len(g.Conns)}
	if err := t.prepare(ctx, g.Conns[0], r); err != nil {
		g.Close()
		return nil, err
	}
	run, err := t.newRun(r, o, month, log)
	if err != nil {
		g.Close()
		return nil, err
	}
	wait := run.start(ctx, cancel, g.Conns)
	finished := false
	defer func() {
		if !finished {
			cancel(errStopped)
		}
		wait()
		g.Close()
		run.close()
	}()
	if err := run.write(ctx, writers, res, database); err != nil {
		if cause := context.Cause(ctx); cause != nil && cause != errStopped {
			err = cause // the query that failed first, not its echo in a spool
		}
		return nil, err
	}
	finished = true
	return res, nil
}

// run is one report run's queries, their results and the spools of its
// parts.
type run struct {
	t      *Template
	r      *strings.Replacer
	o      Options
	month  time.Time
	log    *slog.Logger
	jobs   []job
	meta   metaResults
	spools []*spool

	metaLeft atomic.Int64  // meta jobs not done yet
	metaDone chan struct{} // closed when metaLeft reaches 0
}

// job is one query of the template, run on whichever connection is free.
type job struct {
	name string
	meta bool
	run  func(ctx context.Context, conn *sql.Conn) (rows int64, err error)
}

// newRun lists the jobs and creates the parts' spools.
func (t *Template) newRun(r *strings.Replacer, o Options, month time.Time, log *slog.Logger) (*run, error) {
	rn := &run{t: t, r: r, o: o, month: month, log: log, metaDone: make(chan struct{})}
	rn.jobs = t.metaJobs(r, month, &rn.meta)
	rn.metaLeft.Store(int64(len(rn.jobs)))
	if len(rn.jobs) == 0 {
		close(rn.metaDone)
	}
	for i := range t.Parts {
		p := &t.Parts[i]
		sp, err := newSpool(o.TmpDir, len(p.Columns))
		if err != nil {
			rn.close()
			return nil, fmt.Errorf("report: %w", err)
		}
		rn.spools = append(rn.spools, sp)
		rn.jobs = append(rn.jobs, job{name: "part " + p.Key, run: func(ctx context.Context, conn *sql.Conn) (int64, error) {
			return t.readPart(ctx, conn, r, p, o, sp)
		}})
	}
	return rn, nil
}

// start runs the jobs in order on conns, one goroutine per connection,
// each taking the next job when it is free. The first error cancels ctx
// with it as the cause. wait waits for the goroutines.
func (rn *run) start(ctx context.Context, cancel context.CancelCauseFunc, conns []*sql.Conn) (wait func()) {
	stop := context.AfterFunc(ctx, func() {
		for _, sp := range rn.spools {
			sp.finish(context.Cause(ctx))
		}
	})
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, conn := range conns {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(rn.jobs) || ctx.Err() != nil {
					return
				}
				j := &rn.jobs[i]
				start := time.Now()
				n, err := j.run(ctx, conn)
				if err != nil {
					cancel(err)
					return
				}
				rn.log.Debug("query done", "query", j.name, "rows", n, "server", time.Since(start).Seconds())
				if j.meta && rn.metaLeft.Add(-1) == 0 {
					close(rn.metaDone)
				}
			}
		})
	}
	return func() {
		wg.Wait()
		stop()
	}
}

// write waits for the summary, begins the writers and streams every part
// to them in order from its spool.
func (rn *run) write(ctx context.Context, writers []model.Writer, res *Result, database string) error {
	select {
	case <-rn.metaDone:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	meta, empty, err := rn.t.assembleMeta(&rn.meta, rn.o, rn.month, database)
	if err != nil {
		return err
	}
	for _, w := range writers {
		if err := w.Begin(meta); err != nil {
			return err
		}
	}
	for i := range rn.t.Parts {
		p := &rn.t.Parts[i]
		start := time.Now()
		n, err := writePart(ctx, p, rn.o, rn.spools[i], writers)
		if err != nil {
			return err
		}
		res.Rows[p.Key] = n
		empty = empty && n == 0
		wall := time.Since(start)
		rn.log.Debug("part written", "part", p.Key, "rows", n, "client", (wall - rn.spools[i].waited).Seconds(),
			"waited", rn.spools[i].waited.Seconds())
	}
	res.Empty = empty
	return nil
}

// close releases the spools.
func (rn *run) close() {
	for _, sp := range rn.spools {
		sp.close()
	}
}

// prepare asks the server to prepare every query of the template, so that
// an unknown column or a syntax error names the template and the part.
func (t *Template) prepare(ctx context.Context, conn *sql.Conn, r *strings.Replacer) error {
	check := func(where, q string) error {
		stmt, err := conn.PrepareContext(ctx, r.Replace(q))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: %s: %s: %v", ErrTemplate, t.file, where, err)
		}
		return stmt.Close()
	}
	for _, f := range t.Summary {
		if err := check("summary "+f.Key, f.SQL); err != nil {
			return err
		}
	}
	for _, q := range [][2]string{{"aging", t.Aging.SQL}, {"daily collections", t.Daily.CollectionsSQL}, {"daily disbursements", t.Daily.DisbursementsSQL}} {
		if err := check(q[0], q[1]); err != nil {
			return err
		}
	}
	for _, p := range t.Parts {
		var b strings.Builder
		b.WriteString("SELECT ")
		for i, c := range p.Columns {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c.Expr)
		}
		for _, k := range p.KeyCols {
			b.WriteString(", " + sqlident.Quote(p.Table) + "." + sqlident.Quote(k.Column))
		}
		b.WriteString(" FROM " + sqlident.Quote(p.Table))
		if p.Where != "" {
			b.WriteString(" WHERE " + p.Where)
		}
		b.WriteString(" LIMIT 0")
		if err := check("part "+p.Key, b.String()); err != nil {
			return err
		}
	}
	return nil
}

// readPart reads one part through its keyset cursor into sp, straight
// from the driver (paginate's ForEach), and ends sp.
func (t *Template) readPart(ctx context.Context, conn *sql.Conn, r *strings.Replacer, p *PartDef, o Options, sp *spool) (int64, error) {
	exprs := make([]string, len(p.Columns))
	for i, c := range p.Columns {
		exprs[i] = r.Replace(c.Expr)
	}
	key := make([]paginate.KeyColumn, len(p.KeyCols))
	for i, k := range p.KeyCols {
		key[i] = paginate.KeyColumn{Name: k.Column, Index: -1, Type: map[string]paginate.KeyType{
			"number": paginate.KeyNumber, "text": paginate.KeyText, "binary": paginate.KeyBinary}[k.Type]}
	}
	pageRows := o.PageRows
	if pageRows == nil {
		pageRows = func() int { return math.MaxInt } // one page: the whole part
	}
	cur, err := paginate.New(paginate.Query{Table: p.Table, Columns: exprs, Key: key, Where: r.Replace(p.Where)},
		paginate.Options{PageSize: pageRows})
	if err != nil {
		err = fmt.Errorf("%w: %s: part %s: %v", ErrTemplate, t.file, p.Key, err)
		sp.finish(err)
		return 0, err
	}
	defer cur.Close()
	var n int64
	err = cur.ForEach(ctx, conn, func(vals []sql.RawBytes) error {
		n++
		return sp.add(vals)
	})
	if err != nil {
		err = fmt.Errorf("part %s: %w", p.Key, err)
	}
	sp.finish(err)
	return n, err
}

// writePart streams one part from its spool to every writer, with its
// totals.
func writePart(ctx context.Context, p *PartDef, o Options, sp *spool, writers []model.Writer) (int64, error) {
	lang := o.Lang
	part := &model.Part{Key: p.Key, Title: p.Title[lang], InPDF: p.InPDF}
	for _, c := range p.Columns {
		part.Columns = append(part.Columns, model.Column{Key: c.Key, Heading: c.Heading[lang], Kind: c.Kind,
			Decimals: c.Decimals, Width: c.Width, Total: c.Total})
	}
	for _, w := range writers {
		if err := w.StartPart(part); err != nil {
			return 0, err
		}
	}
	vals := make([]model.Value, len(p.Columns))
	sums := make([]decimalSum, len(p.Columns))
	var n int64
	for {
		raw, err := sp.next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
		for i, c := range p.Columns {
			vals[i] = toValue(c.Kind, raw[i], raw[i] == nil)
			if c.Total && raw[i] != nil {
				sums[i].add(raw[i])
			}
		}
		for _, w := range writers {
			if err := w.Row(vals); err != nil {
				return n, err
			}
		}
		n++
		if o.Progress != nil && n%5000 == 0 {
			o.Progress(p.Key, n)
		}
	}
	totals := make([]model.Value, len(p.Columns))
	for i, c := range p.Columns {
		if !c.Total {
			totals[i] = model.Value{Null: true}
			continue
		}
		text := sums[i].text(c.Decimals, c.Kind == model.KindMoney)
		totals[i] = toValue(c.Kind, []byte(text), false)
	}
	for _, w := range writers {
		if err := w.EndPart(totals, n); err != nil {
			return n, err
		}
	}
	if o.Progress != nil {
		o.Progress(p.Key, n)
	}
	return n, nil
}

// toValue types one raw value for a column kind.
func toValue(k model.Kind, raw []byte, null bool) model.Value {
	if null {
		return model.Value{Null: true}
	}
	s := string(raw)
	v := model.Value{Text: s}
	switch k {
	case model.KindInteger, model.KindMoney, model.KindPercent:
		v.Num, _ = strconv.ParseFloat(s, 64)
	case model.KindDate:
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return model.Value{Null: true} // a zero date has no calendar day
		}
		v.Time = t
	case model.KindDateTime:
		t, err := time.Parse("2006-01-02 15:04:05.999999", s)
		if err != nil {
			return model.Value{Null: true}
		}
		v.Time = t
		v.Text = t.Format("2006-01-02 15:04:05")
	}
	return v
}

// decimalSum adds decimal texts exactly, as integers scaled by 10^9.
type decimalSum struct {
	units int64 // whole part
	nanos int64 // fraction in 1e-9
}

func (d *decimalSum) add(raw []byte) {
	s := string(raw)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	w, _ := strconv.ParseInt(whole, 10, 64)
	frac = (frac + "000000000")[:9]
	f, _ := strconv.ParseInt(frac, 10, 64)
	if neg {
		w, f = -w, -f
	}
	d.units += w
	d.nanos += f
	d.units += d.nanos / 1e9
	d.nanos %= 1e9
}

// text renders the sum exactly: integers without a fraction, money with
// at least decimals fraction digits and more when the sum has them (the
// writers round for display, so a total prints as the rows do).
func (d decimalSum) text(decimals int, money bool) string {
	units, nanos := d.units, d.nanos
	if units > 0 && nanos < 0 {
		units--
		nanos += 1e9
	} else if units < 0 && nanos > 0 {
		units++
		nanos -= 1e9
	}
	neg := units < 0 || nanos < 0
	if units < 0 {
		units = -units
	}
	if nanos < 0 {
		nanos = -nanos
	}
	s := strconv.FormatInt(units, 10)
	if money {
		frac := strings.TrimRight(fmt.Sprintf("%09d", nanos), "0")
		for len(frac) < decimals {
			frac += "0"
		}
		if frac != "" {
			s += "." + frac
		}
	}
	if neg {
		s = "-" + s
	}
	return s
}
