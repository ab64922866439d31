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

// meta runs the summary, aging and daily queries and returns what comes
// before the parts, and whether every summary figure is null or zero.
func (t *Template) meta(ctx context.Context, conn *sql.Conn, r *strings.Replacer, o Options, month time.Time, database string) (*model.Meta, bool, error) {
	m := t.newMeta(o, month, database)
	empty, err := t.summary(ctx, conn, r, m)
	if err != nil {
		return nil, false, err
	}
	if m.Aging, err = t.aging(ctx, conn, r, m.Lang, m.Labels["aging"]); err != nil {
		return nil, false, err
	}
	if m.Daily, err = t.daily(ctx, conn, r, month); err != nil {
		return nil, false, err
	}
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

// summary runs each figure's query into m.Summary and reports whether
// every figure is null or zero.
func (t *Template) summary(ctx context.Context, conn *sql.Conn, r *strings.Replacer, m *model.Meta) (bool, error) {
	empty := true
	for _, f := range t.Summary {
		var raw sql.NullString
		if err := conn.QueryRowContext(ctx, r.Replace(f.SQL)).Scan(&raw); err != nil {
			return false, fmt.Errorf("summary %s: %w", f.Key, err)
		}
		v := toValue(f.Kind, []byte(raw.String), !raw.Valid)
		if !v.Null && v.Num != 0 {
			empty = false
		}
		m.Summary = append(m.Summary, model.Figure{Key: f.Key, Label: f.Label[m.Lang], Kind: f.Kind, Decimals: f.Decimals, Value: v})
	}
	return empty, nil
}

// aging runs the aging query and returns the table: one row per bucket of
// the template, in its order, zero where the query returned none.
func (t *Template) aging(ctx context.Context, conn *sql.Conn, r *strings.Replacer, lang, title string) (model.Table, error) {
	h := t.Aging.Headings[lang]
	tab := model.Table{Title: title, Columns: []model.Column{
		{Key: "bucket", Heading: h[0], Kind: model.KindText, Width: 16},
		{Key: "count", Heading: h[1], Kind: model.KindInteger, Width: 12, Total: true},
		{Key: "amount", Heading: h[2], Kind: model.KindMoney, Decimals: 3, Width: 16, Total: true},
	}}
	counts, amounts, err := t.agingBuckets(ctx, conn, r)
	if err != nil {
		return model.Table{}, err
	}
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
	return tab, nil
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

// daily returns one point per day of the month with the sums of the
// collections and disbursements queries; days outside the month that a
// query returns are ignored.
func (t *Template) daily(ctx context.Context, conn *sql.Conn, r *strings.Replacer, month time.Time) ([]model.DailyPoint, error) {
	var points []model.DailyPoint
	for d := month; d.Before(month.AddDate(0, 1, 0)); d = d.AddDate(0, 0, 1) {
		points = append(points, model.DailyPoint{Day: d})
	}
	days := make(map[string]*model.DailyPoint, len(points))
	for i := range points {
		days[points[i].Day.Format("2006-01-02")] = &points[i]
	}
	if err := dailySums(ctx, conn, r.Replace(t.Daily.CollectionsSQL), days, func(p *model.DailyPoint, v float64) { p.Collections += v }); err != nil {
		return nil, err
	}
	if err := dailySums(ctx, conn, r.Replace(t.Daily.DisbursementsSQL), days, func(p *model.DailyPoint, v float64) { p.Disbursements += v }); err != nil {
		return nil, err
	}
	return points, nil
}

// dailySums runs query, which returns (date, amount) rows, and adds each
// amount to its day with into.
func dailySums(ctx context.Context, conn *sql.Conn, query string, days map[string]*model.DailyPoint, into func(*model.DailyPoint, float64)) error {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("daily: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var day string
		var v sql.NullFloat64
		if err := rows.Scan(&day, &v); err != nil {
			return fmt.Errorf("daily: %w", err)
		}
		if p := days[day]; p != nil {
			into(p, v.Float64)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("daily: %w", err)
	}
	return nil
}
