package report

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"lms-backup/report/model"
)

// metaResults are the answers of the queries that come before the parts,
// each written by one job (so by one goroutine) and read after all of
// them are done.
type metaResults struct {
	figures []sql.NullString // one per summary figure
	counts  []int64          // aging, per bucket
	amounts []string         // aging, per bucket
	daily   []model.DailyPoint
}

// metaJobs returns the summary, aging and daily queries as jobs that fill
// res: one job per query, so that they spread over the connections.
// Figures whose queries differ only in the value they select are one
// query (see groupFigures).
func (t *Template) metaJobs(r *strings.Replacer, month time.Time, res *metaResults) []job {
	res.figures = make([]sql.NullString, len(t.Summary))
	var jobs []job
	for _, g := range groupFigures(t.Summary) {
		keys := make([]string, len(g.idx))
		dest := make([]any, len(g.idx))
		for j, i := range g.idx {
			keys[j], dest[j] = t.Summary[i].Key, &res.figures[i]
		}
		name := "summary " + strings.Join(keys, ", ")
		jobs = append(jobs, job{name: name, meta: true, run: func(ctx context.Context, conn *sql.Conn) (int64, error) {
			if err := conn.QueryRowContext(ctx, r.Replace(g.sql)).Scan(dest...); err != nil {
				return 0, fmt.Errorf("%s: %w", name, err)
			}
			return 1, nil
		}})
	}
	jobs = append(jobs, job{name: "aging", meta: true, run: func(ctx context.Context, conn *sql.Conn) (int64, error) {
		var err error
		res.counts, res.amounts, err = t.agingBuckets(ctx, conn, r)
		return int64(len(res.counts)), err
	}})
	for d := month; d.Before(month.AddDate(0, 1, 0)); d = d.AddDate(0, 0, 1) {
		res.daily = append(res.daily, model.DailyPoint{Day: d})
	}
	// The map is only read by the two jobs; each adds to its own field.
	days := make(map[string]*model.DailyPoint, len(res.daily))
	for i := range res.daily {
		days[res.daily[i].Day.Format("2006-01-02")] = &res.daily[i]
	}
	for _, d := range []struct {
		name, sql string
		into      func(*model.DailyPoint, float64)
	}{
		{"daily collections", t.Daily.CollectionsSQL, func(p *model.DailyPoint, v float64) { p.Collections += v }},
		{"daily disbursements", t.Daily.DisbursementsSQL, func(p *model.DailyPoint, v float64) { p.Disbursements += v }},
	} {
		jobs = append(jobs, job{name: d.name, meta: true, run: func(ctx context.Context, conn *sql.Conn) (int64, error) {
			return dailySums(ctx, conn, r.Replace(d.sql), days, d.into)
		}})
	}
	return jobs
}

// assembleMeta builds what comes before the parts from the answers of the
// meta jobs, and reports whether every summary figure is null or zero.
func (t *Template) assembleMeta(res *metaResults, o Options, month time.Time, database string) (*model.Meta, bool, error) {
	m := t.newMeta(o, month, database)
	empty := true
	for i, f := range t.Summary {
		raw := res.figures[i]
		v := toValue(f.Kind, []byte(raw.String), !raw.Valid)
		if !v.Null && v.Num != 0 {
			empty = false
		}
		m.Summary = append(m.Summary, model.Figure{Key: f.Key, Label: f.Label[m.Lang], Kind: f.Kind, Decimals: f.Decimals, Value: v})
	}
	m.Aging = t.agingTable(res.counts, res.amounts, m.Lang, m.Labels["aging"])
	m.Daily = res.daily
	return m, empty, nil
}

// newMeta fills the title block and the labels in the report's language.
func (t *Template) newMeta(o Options, month time.Time, database string) *model.Meta {
	lang := o.Lang
	m := &model.Meta{Title: t.Title[lang], Month: month, MonthText: o.Month, Lang: lang, RTL: lang == "ar",
		Generated: o.Now(), Database: database, Labels: map[string]string{}}
	for k, v := range t.Labels {
		m.Labels[k] = v[lang]
	}
	return m
}

// agingTable is the aging table: one row per bucket of the template, in
// its order, zero where the query returned none.
func (t *Template) agingTable(counts []int64, amounts []string, lang, title string) model.Table {
	h := t.Aging.Headings[lang]
	tab := model.Table{Title: title, Columns: []model.Column{
		{Key: "bucket", Heading: h[0], Kind: model.KindText, Width: 16},
		{Key: "count", Heading: h[1], Kind: model.KindInteger, Width: 12, Total: true},
		{Key: "amount", Heading: h[2], Kind: model.KindMoney, Decimals: 3, Width: 16, Total: true},
	}}
	for i, b := range t.Aging.Buckets {
		amt := amounts[i]
		if amt == "" {
			amt = "0.000"
		}
		tab.Rows = append(tab.Rows, []model.Value{
			{Text: b[lang]},
			toValue(model.KindInteger, []byte(strconv.FormatInt(counts[i], 10)), false),
			toValue(model.KindMoney, []byte(amt), false),
		})
	}
	return tab
}

// agingBuckets runs the aging query: (bucket 1..n, count, amount) rows
// into counts and amounts indexed by bucket-1. A bucket outside the
// template's is a template error.
func (t *Template) agingBuckets(ctx context.Context, conn *sql.Conn, r *strings.Replacer) (counts []int64, amounts []string, err error) {
	counts = make([]int64, len(t.Aging.Buckets))
	amounts = make([]string, len(t.Aging.Buckets))
	rows, err := conn.QueryContext(ctx, r.Replace(t.Aging.SQL))
	if err != nil {
		return nil, nil, fmt.Errorf("aging: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b int
		var n int64
		var amt sql.NullString
		if err := rows.Scan(&b, &n, &amt); err != nil {
			return nil, nil, fmt.Errorf("aging: %w", err)
		}
		if b < 1 || b > len(counts) {
			return nil, nil, fmt.Errorf("%w: %s: aging: the query returned bucket %d; the template has %d buckets", ErrTemplate, t.file, b, len(counts))
		}
		counts[b-1], amounts[b-1] = n, amt.String
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("aging: %w", err)
	}
	return counts, amounts, nil
}

// dailySums runs query, which returns (date, amount) rows, and adds each
// amount to its day with into.
func dailySums(ctx context.Context, conn *sql.Conn, query string, days map[string]*model.DailyPoint, into func(*model.DailyPoint, float64)) (int64, error) {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return 0, fmt.Errorf("daily: %w", err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var day string
		var v sql.NullFloat64
		if err := rows.Scan(&day, &v); err != nil {
			return n, fmt.Errorf("daily: %w", err)
		}
		if p := days[day]; p != nil {
			into(p, v.Float64)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("daily: %w", err)
	}
	return n, nil
}
