package xlsx

import (
	"fmt"
	"strings"

	"github.com/xuri/excelize/v2"
)

// The summary sheet, top to bottom: title block (title, month, generation
// time), the summary figures, the aging table, the daily table with its
// chart to the right.

// writeSummary fills the workbook's first sheet, renamed to the
// "summary" label.
func (w *Writer) writeSummary() error {
	name, err := w.newSummarySheet()
	if err != nil {
		return err
	}
	c := &sheetCells{f: w.f, sheet: name}
	r := w.summaryTitle(c)
	r = w.summaryFigures(c, r)
	r = w.summaryAging(c, r)
	if len(w.meta.Daily) > 0 {
		hdr, last := w.summaryDaily(c, r)
		if c.err != nil {
			return c.err
		}
		if err := w.addDailyChart(name, hdr, last); err != nil {
			return fmt.Errorf("chart: %w", err)
		}
	}
	if c.err != nil {
		return c.err
	}
	return w.setSummaryWidths(name)
}

// sheetCells sets cells on a normal (not streamed) sheet. The first error
// is kept in err and later calls do nothing.
type sheetCells struct {
	f     *excelize.File
	sheet string
	err   error
}

// set writes val to the cell at col, row (1-based) with style (0: none);
// a nil val leaves the cell empty.
func (c *sheetCells) set(col, row int, val interface{}, style int) {
	if c.err != nil || val == nil {
		return
	}
	cell, _ := excelize.CoordinatesToCellName(col, row)
	if c.err = c.f.SetCellValue(c.sheet, cell, val); c.err == nil && style != 0 {
		c.err = c.f.SetCellStyle(c.sheet, cell, cell, style)
	}
}

// newSummarySheet renames the new file's first sheet after the summary
// label, sets its direction and the document properties, and returns its
// name.
func (w *Writer) newSummarySheet() (string, error) {
	m, f := w.meta, w.f
	name := w.uniqueSheetName(sanitizeSheetName(label(m, "summary", "Summary"), "Summary"), 1)
	if err := f.SetSheetName(f.GetSheetName(0), name); err != nil {
		return "", err
	}
	if m.RTL {
		if err := f.SetSheetView(name, 0, &excelize.ViewOptions{RightToLeft: boolPtr(true)}); err != nil {
			return "", err
		}
	}
	if m.Title != "" {
		_ = f.SetDocProps(&excelize.DocProperties{Title: m.Title, Language: m.Lang})
	}
	return name, nil
}

// summaryTitle writes the title block on rows 1 to 3 and returns the row
// the figures start on.
func (w *Writer) summaryTitle(c *sheetCells) int {
	m := w.meta
	title := m.Title
	if title == "" {
		title = label(m, "title", "")
	}
	c.set(1, 1, title, w.st.title)
	c.set(1, 2, m.MonthText, w.st.text[1])
	if !m.Generated.IsZero() {
		c.set(1, 3, label(m, "generated", "Generated"), 0)
		c.set(2, 3, m.Generated, w.st.datetime[0])
	}
	return 5
}

// summaryFigures writes one row per figure (label, value) from row r and
// returns the row after them.
func (w *Writer) summaryFigures(c *sheetCells, r int) int {
	for i := range w.meta.Summary {
		fg := &w.meta.Summary[i]
		c.set(1, r, fg.Label, 0)
		c.set(2, r, cellValue(fg.Kind, &fg.Value), w.st.forKind(fg.Kind, fg.Decimals, false))
		r++
	}
	return r
}

// summaryAging writes the aging table (title, header, rows) after a blank
// row, if it has columns, and returns the row after it.
func (w *Writer) summaryAging(c *sheetCells, r int) int {
	t := &w.meta.Aging
	if len(t.Columns) == 0 {
		return r
	}
	r++
	c.set(1, r, t.Title, w.st.text[1])
	r++
	for i, col := range t.Columns {
		c.set(i+1, r, col.Heading, w.st.header)
	}
	r++
	for _, vals := range t.Rows {
		for i := range min(len(vals), len(t.Columns)) {
			col := &t.Columns[i]
			c.set(i+1, r, cellValue(col.Kind, &vals[i]), w.st.forKind(col.Kind, col.Decimals, false))
		}
		r++
	}
	return r
}

// summaryDaily writes the daily table after a blank row and returns the
// rows of its header and of its last day.
func (w *Writer) summaryDaily(c *sheetCells, r int) (hdr, last int) {
	m := w.meta
	r++
	hdr = r
	c.set(1, r, label(m, "day", "Day"), w.st.header)
	c.set(2, r, label(m, "collections", "Collections"), w.st.header)
	c.set(3, r, label(m, "disbursements", "Disbursements"), w.st.header)
	for i := range m.Daily {
		d := &m.Daily[i]
		r++
		c.set(1, r, d.Day, w.st.date[0])
		c.set(2, r, d.Collections, w.st.money[0][3])
		c.set(3, r, d.Disbursements, w.st.money[0][3])
	}
	return hdr, r
}

// setSummaryWidths widens the label column and the value columns.
func (w *Writer) setSummaryWidths(name string) error {
	err := w.f.SetColWidth(name, "A", "A", 34)
	if err == nil {
		err = w.f.SetColWidth(name, "B", "H", 18)
	}
	return err
}

// sheetRef quotes a sheet name for a formula or chart reference.
func sheetRef(sheet string) string {
	return "'" + strings.ReplaceAll(sheet, "'", "''") + "'!"
}

// addDailyChart adds a column chart of collections and disbursements per
// day for the daily table whose header is on row hdr and last day on row
// last, to the right of the table.
func (w *Writer) addDailyChart(sheet string, hdr, last int) error {
	ref := sheetRef(sheet)
	rng := func(col string) string {
		return fmt.Sprintf("%s$%s$%d:$%s$%d", ref, col, hdr+1, col, last)
	}
	series := make([]excelize.ChartSeries, 2)
	for i, col := range []string{"B", "C"} {
		series[i] = excelize.ChartSeries{
			Name:       fmt.Sprintf("%s$%s$%d", ref, col, hdr),
			Categories: rng("A"),
			Values:     rng(col),
		}
	}
	title := label(w.meta, "chart_title", label(w.meta, "collections", "Collections")+" / "+label(w.meta, "disbursements", "Disbursements"))
	return w.f.AddChart(sheet, fmt.Sprintf("E%d", hdr), &excelize.Chart{
		Type:      excelize.Col,
		Series:    series,
		Title:     []excelize.RichTextRun{{Text: title}},
		Legend:    excelize.ChartLegend{Position: "bottom"},
		Dimension: excelize.ChartDimension{Width: 720, Height: 360},
		XAxis:     excelize.ChartAxis{ReverseOrder: w.meta.RTL},
		YAxis:     excelize.ChartAxis{NumFmt: excelize.ChartNumFmt{CustomNumFmt: "#,##0"}},
	})
}
