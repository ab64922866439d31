package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"lms-backup/report/model"
	"lms-backup/templates"
)

// ErrTemplate marks a report definition that cannot be used.
var ErrTemplate = errors.New("report: bad template")

// Text is a string in each language: {"ar": "...", "en": "..."}.
type Text map[string]string

// Template is a report definition: the queries, columns, headings and
// formats of one report. The default (templates/loans.json) is embedded in
// the binary; --template loads another, so the tool fits another schema.
//
// SQL in a template may use the parameters :month_start and :month_end
// (DATETIME literals of the first instant of the month and of the next
// month); they are replaced by quoted literals computed from --month, never
// by text from elsewhere.
type Template struct {
	Name        string                       `json:"name"`
	Description string                       `json:"description"`
	Title       Text                         `json:"title"`
	Labels      map[string]Text              `json:"-"`
	RawLabels   map[string]map[string]string `json:"labels"`
	Summary     []FigureDef                  `json:"summary"`
	Aging       AgingDef                     `json:"aging"`
	Daily       DailyDef                     `json:"daily"`
	Parts       []PartDef                    `json:"parts"`

	file string // where it came from, for messages
}

// FigureDef is one summary figure: a query returning one value.
type FigureDef struct {
	Key      string     `json:"key"`
	Label    Text       `json:"label"`
	Kind     model.Kind `json:"kind"`
	Decimals int        `json:"decimals"`
	SQL      string     `json:"sql"`
}

// AgingDef is the overdue table: a query returning (bucket number 1..n,
// count, amount) rows, and the bucket labels.
type AgingDef struct {
	Buckets  []Text              `json:"buckets"`
	Headings map[string][]string `json:"headings"`
	SQL      string              `json:"sql"`
}

// DailyDef holds two queries returning (date, amount) rows for the chart.
type DailyDef struct {
	CollectionsSQL   string `json:"collections_sql"`
	DisbursementsSQL string `json:"disbursements_sql"`
}

// PartDef is one detail table, read with a keyset cursor over Table.
type PartDef struct {
	Key     string      `json:"key"`
	Title   Text        `json:"title"`
	InPDF   bool        `json:"in_pdf"`
	Table   string      `json:"table"`
	KeyCols []KeyDef    `json:"order_key"`
	Where   string      `json:"where"`
	Columns []ColumnDef `json:"columns"`
}

// KeyDef is one column of a part's unique ordering key.
type KeyDef struct {
	Column string `json:"column"`
	Type   string `json:"type"` // number, text or binary
}

// ColumnDef is one column of a part.
type ColumnDef struct {
	Key      string     `json:"key"`
	Expr     string     `json:"expr"`
	Kind     model.Kind `json:"kind"`
	Decimals int        `json:"decimals"`
	Width    float64    `json:"width"`
	Total    bool       `json:"total"`
	Heading  Text       `json:"heading"`
}

// LoadTemplate reads a report definition; path "" means the embedded
// default. It checks everything that can be checked without a server; Run
// has the server prepare every query before it writes anything.
func LoadTemplate(path string) (*Template, error) {
	var data []byte
	var err error
	name := path
	if path == "" {
		name = "templates/loans.json (built in)"
		data, err = fs.ReadFile(templates.FS, "loans.json")
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrTemplate, name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	t := &Template{file: name}
	if err := dec.Decode(t); err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrTemplate, name, jsonError(data, err))
	}
	t.Labels = map[string]Text{}
	for lang, labels := range t.RawLabels {
		for k, v := range labels {
			if t.Labels[k] == nil {
				t.Labels[k] = Text{}
			}
			t.Labels[k][lang] = v
		}
	}
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrTemplate, name, err)
	}
	return t, nil
}

// jsonError turns a decoding error into "line L, column C: ...".
func jsonError(data []byte, err error) string {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err.Error()
	}
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

var kinds = map[model.Kind]bool{model.KindText: true, model.KindInteger: true, model.KindMoney: true, model.KindPercent: true, model.KindDate: true, model.KindDateTime: true}

var identRe = regexp.MustCompile("^[^`\x00]{1,64}$")

// check runs every check of a template that needs no server, in order;
// the first failure is the error.
func (t *Template) check() error {
	for _, step := range []func() error{t.checkTitle, t.checkLabels, t.checkSummary, t.checkAging, t.checkDaily, t.checkParts} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

var langs = []string{"ar", "en"}

func (t *Template) checkTitle() error { return needText(t.Title, "title") }

// checkLabels: the fixed words the writers need, in both languages.
func (t *Template) checkLabels() error {
	for _, need := range []string{"page", "of", "generated", "totals", "rows_in_workbook_only", "summary", "collections", "disbursements"} {
		for _, lang := range langs {
			if t.Labels[need][lang] == "" {
				return fmt.Errorf("labels.%s has no %q entry", lang, need)
			}
		}
	}
	for _, lang := range langs {
		if strings.Count(t.Labels["rows_in_workbook_only"][lang], "%d") != 1 {
			return fmt.Errorf("labels.%s.rows_in_workbook_only must contain %%d once", lang)
		}
	}
	return nil
}

// checkSummary: unique keys, known kinds, labels and a query per figure.
func (t *Template) checkSummary() error {
	seen := map[string]bool{}
	for i, f := range t.Summary {
		where := fmt.Sprintf("summary[%d] (%s)", i, f.Key)
		if f.Key == "" || seen[f.Key] {
			return fmt.Errorf("%s: key missing or repeated", where)
		}
		seen[f.Key] = true
		if !kinds[f.Kind] {
			return fmt.Errorf("%s: kind %q (use text, integer, money, percent, date or datetime)", where, f.Kind)
		}
		if err := needText(f.Label, where+".label"); err != nil {
			return err
		}
		if strings.TrimSpace(f.SQL) == "" {
			return fmt.Errorf("%s: sql is empty", where)
		}
	}
	return nil
}

// checkAging: a query, buckets, and three headings per language.
func (t *Template) checkAging() error {
	if t.Aging.SQL == "" || len(t.Aging.Buckets) == 0 {
		return fmt.Errorf("aging needs sql and buckets")
	}
	for _, lang := range langs {
		if len(t.Aging.Headings[lang]) != 3 {
			return fmt.Errorf("aging.headings.%s needs 3 headings (bucket, count, amount)", lang)
		}
	}
	return nil
}

func (t *Template) checkDaily() error {
	if t.Daily.CollectionsSQL == "" || t.Daily.DisbursementsSQL == "" {
		return fmt.Errorf("daily needs collections_sql and disbursements_sql")
	}
	return nil
}

// checkParts: at least one part, unique keys, each part checked.
func (t *Template) checkParts() error {
	if len(t.Parts) == 0 {
		return fmt.Errorf("no parts")
	}
	seen := map[string]bool{}
	for i, p := range t.Parts {
		where := fmt.Sprintf("parts[%d] (%s)", i, p.Key)
		if p.Key == "" || seen[p.Key] {
			return fmt.Errorf("%s: key missing or repeated", where)
		}
		seen[p.Key] = true
		if err := checkPart(&p, where); err != nil {
			return err
		}
	}
	return nil
}

// checkPart: title, table name, ordering key and columns of one part.
func checkPart(p *PartDef, where string) error {
	if err := needText(p.Title, where+".title"); err != nil {
		return err
	}
	if !identRe.MatchString(p.Table) {
		return fmt.Errorf("%s: table %q is not a table name", where, p.Table)
	}
	if len(p.KeyCols) == 0 {
		return fmt.Errorf("%s: order_key is empty: name the unique ordering key (e.g. [{\"column\": \"id\", \"type\": \"number\"}])", where)
	}
	for _, k := range p.KeyCols {
		if err := checkKey(k, where); err != nil {
			return err
		}
	}
	if len(p.Columns) == 0 {
		return fmt.Errorf("%s: no columns", where)
	}
	for j, c := range p.Columns {
		if err := checkColumn(c, fmt.Sprintf("%s.columns[%d] (%s)", where, j, c.Key)); err != nil {
			return err
		}
	}
	return nil
}

func checkKey(k KeyDef, where string) error {
	if !identRe.MatchString(k.Column) {
		return fmt.Errorf("%s: key column %q is not a column name", where, k.Column)
	}
	switch k.Type {
	case "number", "text", "binary":
		return nil
	default:
		return fmt.Errorf("%s: key column %s: type %q (use number, text or binary)", where, k.Column, k.Type)
	}
}

func checkColumn(c ColumnDef, cw string) error {
	if c.Key == "" || strings.TrimSpace(c.Expr) == "" {
		return fmt.Errorf("%s: key and expr are required", cw)
	}
	if !kinds[c.Kind] {
		return fmt.Errorf("%s: kind %q (use text, integer, money, percent, date or datetime)", cw, c.Kind)
	}
	if c.Total && c.Kind != model.KindMoney && c.Kind != model.KindInteger {
		return fmt.Errorf("%s: only integer and money columns can have a total", cw)
	}
	return needText(c.Heading, cw+".heading")
}

func needText(t Text, where string) error {
	for _, lang := range langs {
		if t[lang] == "" {
			return fmt.Errorf("%s has no %q text", where, lang)
		}
	}
	return nil
}
