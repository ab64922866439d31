package report

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"lms-backup/paginate"
	"lms-backup/report/model"

	"lms-backup/dbconn"
	"lms-backup/internal/sqlident"
)

// ErrUsage marks invalid options.
var ErrUsage = errors.New("report: invalid options")

// Options configure a report run. Zero values mean defaults.
type Options struct {
	// Month is the report month, YYYY-MM (required).
	Month string
	// Lang is "ar" (default) or "en".
	Lang string
	// PageRows returns the keyset page size before each page; nil means 5,000.
	PageRows func() int
	// Progress, when set, is called every few thousand rows and at the end
	// of each part.
	Progress func(part string, rows int64)
	// Now gives the generation time; nil means time.Now.
	Now func() time.Time
}

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
}

// Run builds the report for o.Month from db with template t and streams it
// to every writer (Begin, parts, EndPart; the caller closes the writers).
// Every query runs in one read-only REPEATABLE READ snapshot, so the
// summary and the detail parts agree. All SQL of the template is prepared
// on the server before the first writer call, so a broken template fails
// before any output.
func Run(ctx context.Context, db *sql.DB, t *Template, o Options, database string, writers []model.Writer, log *slog.Logger) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Lang == "" {
		o.Lang = "ar"
	}
	if o.PageRows == nil {
		o.PageRows = func() int { return 5000 }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	month, _ := ParseMonth(o.Month)
	next := month.AddDate(0, 1, 0)
	r := strings.NewReplacer(
		":month_start", "'"+month.Format("2006-01-02 15:04:05")+"'",
		":month_end", "'"+next.Format("2006-01-02 15:04:05")+"'")

	conn, release, err := dbconn.Dedicated(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer conn.Close()
	defer release()
	for _, q := range []string{"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("start snapshot: %w", err)
		}
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")

	if err := t.prepare(ctx, conn, r); err != nil {
		return nil, err
	}
	meta, empty, err := t.meta(ctx, conn, r, o, month, database)
	if err != nil {
		return nil, err
	}
	for _, w := range writers {
		if err := w.Begin(meta); err != nil {
			return nil, err
		}
	}
	res := &Result{Rows: map[string]int64{}}
	for i := range t.Parts {
		n, err := t.runPart(ctx, conn, r, &t.Parts[i], o, writers)
		if err != nil {
			return nil, err
		}
		res.Rows[t.Parts[i].Key] = n
		empty = empty && n == 0
		log.Debug("part done", "part", t.Parts[i].Key, "rows", n)
	}
	res.Empty = empty
	return res, nil
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

// runPart streams one part to every writer.
func (t *Template) runPart(ctx context.Context, conn *sql.Conn, r *strings.Replacer, p *PartDef, o Options, writers []model.Writer) (int64, error) {
	lang := o.Lang
	part := &model.Part{Key: p.Key, Title: p.Title[lang], InPDF: p.InPDF}
	exprs := make([]string, len(p.Columns))
	for i, c := range p.Columns {
		exprs[i] = r.Replace(c.Expr)
		part.Columns = append(part.Columns, model.Column{Key: c.Key, Heading: c.Heading[lang], Kind: c.Kind,
			Decimals: c.Decimals, Width: c.Width, Total: c.Total})
	}
	key := make([]paginate.KeyColumn, len(p.KeyCols))
	for i, k := range p.KeyCols {
		key[i] = paginate.KeyColumn{Name: k.Column, Index: -1, Type: map[string]paginate.KeyType{
			"number": paginate.KeyNumber, "text": paginate.KeyText, "binary": paginate.KeyBinary}[k.Type]}
	}
	cur, err := paginate.New(paginate.Query{Table: p.Table, Columns: exprs, Key: key, Where: r.Replace(p.Where)},
		paginate.Options{PageSize: o.PageRows})
	if err != nil {
		return 0, fmt.Errorf("%w: %s: part %s: %v", ErrTemplate, t.file, p.Key, err)
	}
	defer cur.Close()
	for _, w := range writers {
		if err := w.StartPart(part); err != nil {
			return 0, err
		}
	}
	vals := make([]model.Value, len(p.Columns))
	sums := make([]decimalSum, len(p.Columns))
	var n int64
	for cur.Next(ctx, conn) {
		raw := cur.Values()
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
	if err := cur.Err(); err != nil {
		return n, fmt.Errorf("part %s: %w", p.Key, err)
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
