package report

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"lms-backup/fixture"
	"lms-backup/internal/testdb"
	"lms-backup/report/model"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// capture is a model.Writer that keeps what it is given, for checking figures.
type capture struct {
	meta   *model.Meta
	parts  []*model.Part
	rows   map[string][][]model.Value
	totals map[string][]model.Value
	counts map[string]int64
	cur    *model.Part
	closed bool
}

var _ model.Writer = (*capture)(nil)

func (c *capture) Begin(m *model.Meta) error {
	c.meta, c.rows, c.totals, c.counts = m, map[string][][]model.Value{}, map[string][]model.Value{}, map[string]int64{}
	return nil
}
func (c *capture) StartPart(p *model.Part) error { c.parts, c.cur = append(c.parts, p), p; return nil }
func (c *capture) Row(v []model.Value) error {
	c.rows[c.cur.Key] = append(c.rows[c.cur.Key], append([]model.Value(nil), v...))
	return nil
}
func (c *capture) EndPart(t []model.Value, n int64) error {
	c.totals[c.cur.Key], c.counts[c.cur.Key] = t, n
	return nil
}
func (c *capture) Close() error { c.closed = true; return nil }
func (c *capture) Discard()     {}

// loanDB creates the sample database once for this package's tests.
func loanDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	srv := testdb.Get(t)
	name := srv.CreateDB(t, "rep")
	root := srv.Open(t, "")
	if _, err := fixture.Run(context.Background(), root, fixture.Options{Database: name, Scale: 1, Force: true}, nil); err != nil {
		t.Fatal(err)
	}
	return srv.Open(t, name), name
}

func figure(t *testing.T, m *model.Meta, key string) model.Value {
	t.Helper()
	for _, f := range m.Summary {
		if f.Key == key {
			return f.Value
		}
	}
	t.Fatalf("no figure %q", key)
	return model.Value{}
}

func q(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	var s sql.NullString
	if err := db.QueryRow(query, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if !s.Valid {
		return "0"
	}
	return s.String
}

func sameNumber(t *testing.T, what string, got model.Value, want string) {
	t.Helper()
	w, _ := strconv.ParseFloat(want, 64)
	if math.Abs(got.Num-w) > 1e-6 {
		t.Errorf("%s = %v (%q), independent SQL says %s", what, got.Num, got.Text, want)
	}
}

// TestFiguresAgainstIndependentSQL runs the built-in report for three
// months, one of them empty, and checks every figure, the aging buckets
// and the part counts and totals against queries written independently of
// the template (other predicates, Go-side arithmetic).
func TestFiguresAgainstIndependentSQL(t *testing.T) {
	db, name := loanDB(t)
	tpl, err := LoadTemplate("")
	if err != nil {
		t.Fatal(err)
	}
	for _, month := range []string{"2022-07", "2024-03", "2019-05"} {
		t.Run(month, func(t *testing.T) {
			c := &capture{}
			res, err := Run(context.Background(), db, tpl, Options{Month: month, Lang: "en", PageRows: func() int { return 333 }}, name, []model.Writer{c}, nil)
			if err != nil {
				t.Fatal(err)
			}
			m := c.meta
			y, mo := month[:4], month[5:]
			inMonth := func(col string) string {
				return fmt.Sprintf("YEAR(%s) = %s AND MONTH(%s) = %s", col, y, col, strings.TrimLeft(mo, "0"))
			}
			live := "loan_id IN (SELECT id FROM loans WHERE status IN ('active','paid','defaulted'))"
			sameNumber(t, "loans_disbursed", figure(t, m, "loans_disbursed"), q(t, db, "SELECT COUNT(*) FROM loans WHERE status IN ('active','paid','defaulted') AND "+inMonth("disbursed_at")))
			sameNumber(t, "principal_disbursed", figure(t, m, "principal_disbursed"), q(t, db, "SELECT SUM(principal) FROM loans WHERE status IN ('active','paid','defaulted') AND "+inMonth("disbursed_at")))
			sameNumber(t, "payments_received", figure(t, m, "payments_received"), q(t, db, "SELECT COUNT(*) FROM payments WHERE "+live+" AND "+inMonth("paid_at")))
			sameNumber(t, "amount_received", figure(t, m, "amount_received"), q(t, db, "SELECT SUM(amount) FROM payments WHERE "+live+" AND "+inMonth("paid_at")))
			sameNumber(t, "installments_due", figure(t, m, "installments_due"), q(t, db, "SELECT COUNT(*) FROM installments WHERE "+live+" AND "+inMonth("due_date")))
			sameNumber(t, "amount_due", figure(t, m, "amount_due"), q(t, db, "SELECT SUM(amount) FROM installments WHERE "+live+" AND "+inMonth("due_date")))
			sameNumber(t, "new_users", figure(t, m, "new_users"), q(t, db, "SELECT COUNT(*) FROM users WHERE "+inMonth("joined_at")))

			// Overdue and portfolio: fetch the installments and compute in Go.
			start, _ := time.Parse("2006-01", month)
			end := start.AddDate(0, 1, 0)
			rows, err := db.Query("SELECT i.loan_id, i.due_date, i.amount, i.paid_amount, i.paid_at, l.disbursed_at FROM installments i, loans l WHERE l.id = i.loan_id AND l.status <> 'pending'")
			if err != nil {
				t.Fatal(err)
			}
			var bucketN [4]int64
			var bucketAmt [4]float64
			var portfolio, paidOnDue, due float64
			loansOut := map[int64]float64{}
			for rows.Next() {
				var loan int64
				var dueDate, disb string
				var amount, paid float64
				var paidAt sql.NullString
				if err := rows.Scan(&loan, &dueDate, &amount, &paid, &paidAt, &disb); err != nil {
					t.Fatal(err)
				}
				d, _ := time.Parse("2006-01-02", dueDate)
				db, _ := time.Parse("2006-01-02 15:04:05", disb)
				paidBy := 0.0
				if paidAt.Valid {
					p, _ := time.Parse("2006-01-02 15:04:05", paidAt.String)
					if p.Before(end) {
						paidBy = paid
					}
				}
				if !d.Before(start) && d.Before(end) {
					due += amount
					paidOnDue += paidBy
				}
				if db.Before(end) {
					portfolio += amount - paidBy
					loansOut[loan] += amount - paidBy
				}
				if d.Before(end) && amount-paidBy > 0.0005 {
					late := int(end.Sub(d).Hours() / 24)
					b := 3
					switch {
					case late <= 30:
						b = 0
					case late <= 60:
						b = 1
					case late <= 90:
						b = 2
					}
					bucketN[b]++
					bucketAmt[b] += amount - paidBy
				}
			}
			rows.Close()
			sameNumber(t, "paid_on_due", figure(t, m, "paid_on_due"), fmt.Sprint(paidOnDue))
			sameNumber(t, "outstanding_portfolio", figure(t, m, "outstanding_portfolio"), fmt.Sprintf("%.3f", portfolio))
			if due > 0 {
				if got := figure(t, m, "collection_rate"); math.Abs(got.Num-paidOnDue/due) > 1e-4 {
					t.Errorf("collection_rate %v, want %v", got.Num, paidOnDue/due)
				}
			}
			var overdueRows int64
			for b := range 4 {
				overdueRows += bucketN[b]
				sameNumber(t, fmt.Sprintf("aging bucket %d count", b+1), m.Aging.Rows[b][1], fmt.Sprint(bucketN[b]))
				sameNumber(t, fmt.Sprintf("aging bucket %d amount", b+1), m.Aging.Rows[b][2], fmt.Sprintf("%.3f", bucketAmt[b]))
			}
			if res.Rows["overdue"] != overdueRows {
				t.Errorf("overdue part has %d rows, Go counts %d", res.Rows["overdue"], overdueRows)
			}
			var withBalance int64
			for _, out := range loansOut {
				if out > 0.0005 {
					withBalance++
				}
			}
			if res.Rows["portfolio"] != withBalance {
				t.Errorf("portfolio part has %d loans, Go counts %d with a balance", res.Rows["portfolio"], withBalance)
			}
			sameNumber(t, "disbursed part rows", model.Value{Num: float64(res.Rows["disbursed"])}, figure(t, m, "loans_disbursed").Text)
			sameNumber(t, "payments part rows", model.Value{Num: float64(res.Rows["payments"])}, figure(t, m, "payments_received").Text)
			sameNumber(t, "payments part total", c.totals["payments"][3], figure(t, m, "amount_received").Text)
			sameNumber(t, "disbursed part total", c.totals["disbursed"][2], figure(t, m, "principal_disbursed").Text)
			if month == "2019-05" {
				if !res.Empty {
					t.Error("a month before any loan is not reported as empty")
				}
			} else if res.Empty || res.Rows["payments"] == 0 || res.Rows["disbursed"] == 0 {
				t.Errorf("month %s looks empty: %+v", month, res.Rows)
			}
			if len(m.Daily) < 28 || len(m.Daily) > 31 {
				t.Errorf("%d daily points", len(m.Daily))
			}
			var daily float64
			for _, p := range m.Daily {
				daily += p.Collections
			}
			sameNumber(t, "daily collections sum", model.Value{Num: daily}, figure(t, m, "amount_received").Text)
		})
	}
}

// TestPartsAreOrderedAndComplete checks that keyset paging with a small
// page gives every row of a part exactly once, in key order.
func TestPartsAreOrderedAndComplete(t *testing.T) {
	db, name := loanDB(t)
	tpl, _ := LoadTemplate("")
	c := &capture{}
	if _, err := Run(context.Background(), db, tpl, Options{Month: "2023-11", Lang: "ar", PageRows: func() int { return 7 }}, name, []model.Writer{c}, nil); err != nil {
		t.Fatal(err)
	}
	if !c.meta.RTL || c.meta.Title != "تقرير القروض الشهري" {
		t.Errorf("Arabic meta: RTL %v title %q", c.meta.RTL, c.meta.Title)
	}
	var prev time.Time
	var prevID int64
	for _, r := range c.rows["payments"] {
		id, _ := strconv.ParseInt(r[0].Text, 10, 64)
		if r[4].Time.Before(prev) || (r[4].Time.Equal(prev) && id <= prevID) {
			t.Fatalf("payments out of (paid_at, id) order at id %d", id)
		}
		prev, prevID = r[4].Time, id
	}
	want := q(t, db, "SELECT COUNT(*) FROM payments WHERE paid_at >= '2023-11-01' AND paid_at < '2023-12-01'")
	if fmt.Sprint(len(c.rows["payments"])) != want {
		t.Errorf("payments part has %d rows, want %s", len(c.rows["payments"]), want)
	}
}

// TestBadTemplates checks that a broken definition is refused with the
// file and the problem named, before any writer is called.
func TestBadTemplates(t *testing.T) {
	db, name := loanDB(t)
	base, err := os.ReadFile("../templates/loans.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, from, to, want string
		atRun                bool
	}{
		{"syntax", `"parts": [`, `"parts": [[`, "line", false},
		{"unknown field", `"in_pdf": true,`, `"in_pdf": true, "colour": 1,`, "unknown field", false},
		{"bad kind", `"kind": "money"`, `"kind": "cash"`, "kind", false},
		{"missing arabic", `"title": {"ar": "تقرير القروض الشهري", `, `"title": {`, `"ar"`, false},
		{"bad key type", `"type": "number"}]`, `"type": "float"}]`, "type", false},
		{"unknown column", "`loans`.`purpose`", "`loans`.`purpose_of_loan`", "Unknown column", true},
		{"bad sql", "SELECT COUNT(*) FROM users", "SELEKT COUNT(*) FROM users", "syntax", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.Replace(string(base), tt.from, tt.to, 1)
			if text == string(base) {
				t.Fatalf("replacement %q not found in the template", tt.from)
			}
			path := filepath.Join(t.TempDir(), "mine.json")
			os.WriteFile(path, []byte(text), 0o600)
			tpl, err := LoadTemplate(path)
			if tt.atRun {
				if err != nil {
					t.Fatalf("load: %v", err)
				}
				c := &capture{}
				_, err = Run(context.Background(), db, tpl, Options{Month: "2024-03"}, name, []model.Writer{c}, nil)
				if c.meta != nil {
					t.Error("a writer was started before the template was checked")
				}
			}
			if err == nil || !strings.Contains(err.Error(), "mine.json") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one naming mine.json and %q", err, tt.want)
			}
		})
	}
}

func TestParseMonth(t *testing.T) {
	for _, s := range []string{"2024-13", "2024-3", "24-03", "2024/03", "", "2024-03-01", "0999-01"} {
		if _, err := ParseMonth(s); err == nil {
			t.Errorf("ParseMonth(%q) accepted", s)
		}
	}
	if m, err := ParseMonth("2024-02"); err != nil || m.Month() != time.February {
		t.Errorf("ParseMonth(2024-02) = %v, %v", m, err)
	}
}

// TestSameReportWhateverTheConnections runs the report on one and two
// connections, in keyset pages and in one query per part, and as an
// account without the RELOAD privilege (which falls back to one
// connection): every run gives the writers the same meta and rows.
func TestSameReportWhateverTheConnections(t *testing.T) {
	db, name := loanDB(t)
	srv := testdb.Get(t)
	user := fmt.Sprintf("rep_noreload_%d", os.Getpid())
	srv.Exec(t, "", "CREATE USER IF NOT EXISTS '"+user+"'@'localhost'", "GRANT SELECT ON `"+name+"`.* TO '"+user+"'@'localhost'")
	t.Cleanup(func() { srv.Exec(t, "", "DROP USER IF EXISTS '"+user+"'@'localhost'") })
	cfg, err := mysql.ParseDSN(srv.DSN(name))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Passwd = user, ""
	limited, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { limited.Close() })
	tpl, _ := LoadTemplate("")
	now := func() time.Time { return time.Date(2024, 4, 2, 3, 4, 5, 0, time.UTC) }
	runs := []struct {
		name     string
		db       *sql.DB
		o        Options
		conns    int
		fallback bool
	}{
		{name: "one connection", db: db, o: Options{Connections: 1}, conns: 1},
		{name: "two connections", db: db, o: Options{Connections: 2}, conns: 2},
		{name: "two connections, pages of 50", db: db, o: Options{Connections: 2, PageRows: func() int { return 50 }}, conns: 2},
		{name: "no RELOAD privilege", db: limited, o: Options{Connections: 2}, conns: 1, fallback: true},
	}
	var first *capture
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			o := r.o
			o.Month, o.Lang, o.Now, o.TmpDir = "2024-03", "en", now, t.TempDir()
			c := &capture{}
			res, err := Run(context.Background(), r.db, tpl, o, name, []model.Writer{c}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Connections != r.conns || (res.Fallback != "") != r.fallback {
				t.Errorf("ran on %d connections (fallback %q), want %d", res.Connections, res.Fallback, r.conns)
			}
			if first == nil {
				first = c
				return
			}
			if !reflect.DeepEqual(c.meta, first.meta) {
				t.Errorf("meta differs from the first run's:\n%+v\n%+v", c.meta, first.meta)
			}
			for _, p := range tpl.Parts {
				if !reflect.DeepEqual(c.rows[p.Key], first.rows[p.Key]) || !reflect.DeepEqual(c.totals[p.Key], first.totals[p.Key]) {
					t.Errorf("part %s differs from the first run's (%d rows, first %d)", p.Key, len(c.rows[p.Key]), len(first.rows[p.Key]))
				}
			}
		})
	}
}
