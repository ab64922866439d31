// Package model holds what passes between a report run and its output
// writers: typed values, column and part descriptions, the report's meta
// data and the Writer interface. It knows no SQL, no template and no file
// format; report fills these types and report/xlsx and report/pdf consume
// them.
package model

import "time"

// Kind is how a column's values are typed and formatted.
type Kind string

// Kinds.
const (
	KindText     Kind = "text"     // Value.Text
	KindInteger  Kind = "integer"  // Value.Num (whole), Value.Text holds the digits
	KindMoney    Kind = "money"    // Value.Num, Value.Text the exact decimal text; shown with Decimals (3) and thousands separators
	KindPercent  Kind = "percent"  // Value.Num as a fraction (0.25 = 25%); shown with Decimals
	KindDate     Kind = "date"     // Value.Time (UTC midnight); Value.Text "2006-01-02"
	KindDateTime Kind = "datetime" // Value.Time (UTC); Value.Text "2006-01-02 15:04:05"
)

// Value is one typed cell. Null means SQL NULL (an empty cell). For every
// kind Text holds the value's text as the report should print it when a
// writer has no better formatting of its own.
type Value struct {
	Null bool
	Text string
	Num  float64
	Time time.Time
}

// Column describes one column of a table in the report.
type Column struct {
	Key      string  // stable identifier from the template
	Heading  string  // in the report's language
	Kind     Kind    //
	Decimals int     // for money and percent
	Width    float64 // suggested width in characters
	Total    bool    // summed in the totals row (integer, money)
}

// Figure is one line of the summary: a label and its value.
type Figure struct {
	Key      string
	Label    string
	Kind     Kind
	Decimals int
	Value    Value
}

// Table is a small table held in memory (the aging buckets).
type Table struct {
	Title   string
	Columns []Column
	Rows    [][]Value
}

// DailyPoint is one day of the month for the chart.
type DailyPoint struct {
	Day           time.Time // UTC midnight
	Collections   float64   // payments received that day
	Disbursements float64   // principal disbursed that day
}

// Meta is everything that comes before the detail parts.
type Meta struct {
	Title     string    // e.g. "تقرير القروض الشهري" / "Monthly loan report"
	Month     time.Time // first day of the month, UTC
	MonthText string    // e.g. "2024-03"
	Lang      string    // "ar" or "en"
	RTL       bool      // right-to-left layout (Arabic)
	Generated time.Time
	Database  string
	Summary   []Figure
	Aging     Table
	Daily     []DailyPoint
	// Labels are the fixed words writers need, in the report's language:
	// "summary", "chart_title", "collections", "disbursements", "day",
	// "page", "of", "generated", "totals", "rows_in_workbook_only" (a
	// format string with one %d for the number of rows), "part".
	Labels map[string]string
}

// Part is one detail table: a sheet in the workbook, a section in the PDF.
type Part struct {
	Key     string
	Title   string // sheet and section title in the report's language
	Columns []Column
	InPDF   bool // whether the PDF shows this part (capped in rows)
}

// Writer consumes one report in order: Begin, then for each part
// StartPart, Row for each row, EndPart; then Close, which completes the
// output. A Writer never keeps rows beyond what its format needs to hold.
// Errors are sticky. Writers are not safe for concurrent use.
type Writer interface {
	Begin(m *Meta) error
	StartPart(p *Part) error
	// Row adds one row; vals has one Value per Part column and is only
	// valid during the call.
	Row(vals []Value) error
	// EndPart ends the current part with its totals (one Value per column,
	// Null where the column has no total) and its number of rows.
	EndPart(totals []Value, rows int64) error
	// Close finishes the output and flushes it to the underlying writer,
	// which it does not close.
	Close() error
	// Discard ends a failed run instead of Close: it releases temporary
	// files and memory and writes nothing more.
	Discard()
}
