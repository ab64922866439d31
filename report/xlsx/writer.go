// Package xlsx writes a report as an Excel workbook through excelize's
// StreamWriter, with sheet data spilled to temp files and the zip deflated
// straight into the output. It implements model.Writer and knows nothing
// of templates or SQL.
package xlsx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"lms-backup/report/model"
)

// Excel limits.
const (
	maxRows      = 1048576 // rows per sheet
	maxCols      = 16384   // columns per sheet
	maxSheetName = 31      // UTF-16 code units
	maxDecimals  = 6       // decimals we keep styles for
	maxColWidth  = 255
)

// Options configures a Writer. The zero value is usable.
type Options struct {
	// TmpDir is where streamed sheet data goes (every MiB of sheet XML,
	// and each sheet when it ends); "" means os.TempDir(). The files are
	// removed by Close and Discard.
	TmpDir string
	// MaxRowsPerSheet caps the rows of one sheet, header and totals rows
	// included; a part with more rows continues on "Title (2)", "Title
	// (3)", ... with the header repeated. 0 means Excel's limit of
	// 1,048,576; values below 3 are raised to 3, values above the limit
	// lowered to it.
	MaxRowsPerSheet int
}

// Writer writes the report as an Excel workbook: a normal "Summary"
// sheet (figures, aging table, daily table and a chart of it) followed by
// one streamed sheet per part. Rows are streamed through excelize's
// StreamWriter; its XML moves to files in Options.TmpDir every MiB and
// when a sheet ends (see spill), and Close then deflates the workbook
// straight into the underlying writer without building it in memory.
//
// Totals rows hold the totals passed to EndPart as values, not SUM
// formulas: they are the exact totals computed by the query and stay right
// when a part is split over several sheets.
//
// Errors are sticky and carry an "xlsx: " prefix. A Writer is not
// safe for concurrent use.
type Writer struct {
	out  io.Writer
	opts Options
	f    *excelize.File
	meta *model.Meta
	st   styles
	err  error
	done bool

	used map[string]bool // sheet names in use, lower-cased

	// Current part.
	part     *model.Part
	base     string // sanitised part title
	sheetNo  int    // 1 for the first sheet of the part
	sheet    string
	sw       *excelize.StreamWriter
	sheetRow int // last row written on the current sheet
	lastCol  string
	header   []interface{}
	colStyle []int
	cells    []excelize.Cell
	row      []interface{} // reused for every row; row[i] is &cells[i] or nil
	colNames []string      // column letters of the part's columns
	swBuf    *bytes.Buffer // the stream's XML buffer (see appendRow); nil if unknown
	xml      []byte        // one row's XML, reused
}

var _ model.Writer = (*Writer)(nil)

// New returns a Writer that writes a workbook to w on Close. It does
// not close w. If w is an *os.File (an io.WriterAt and io.Seeker), Close
// can patch the ZIP64 local headers Excel requires for a sheet over 4 GiB;
// on other writers such a sheet is an error (lower MaxRowsPerSheet).
func New(w io.Writer, o Options) *Writer {
	switch {
	case o.MaxRowsPerSheet <= 0 || o.MaxRowsPerSheet > maxRows:
		o.MaxRowsPerSheet = maxRows
	case o.MaxRowsPerSheet < 3:
		o.MaxRowsPerSheet = 3
	}
	if o.TmpDir == "" {
		o.TmpDir = os.TempDir()
	}
	return &Writer{out: w, opts: o, used: make(map[string]bool)}
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

func (w *Writer) failf(format string, args ...any) error {
	return w.fail(fmt.Errorf("xlsx: "+format, args...))
}

func label(m *model.Meta, key, def string) string {
	if s := m.Labels[key]; s != "" {
		return s
	}
	return def
}

// Begin creates the workbook, its styles and the summary sheet.
func (w *Writer) Begin(m *model.Meta) error {
	if w.err != nil {
		return w.err
	}
	if w.f != nil {
		return w.failf("Begin called twice")
	}
	w.meta = m
	w.f = excelize.NewFile(excelize.Options{TmpDir: w.opts.TmpDir})
	if err := w.newStyles(); err != nil {
		return w.failf("%w", err)
	}
	if err := w.writeSummary(); err != nil {
		return w.failf("summary sheet: %w", err)
	}
	return nil
}

func boolPtr(b bool) *bool { return &b }

// StartPart starts a part on a new streamed sheet named after its title.
func (w *Writer) StartPart(p *model.Part) error {
	if w.err != nil {
		return w.err
	}
	switch {
	case w.f == nil:
		return w.failf("StartPart before Begin")
	case w.part != nil:
		return w.failf("StartPart %q while part %q is open", p.Title, w.part.Title)
	case len(p.Columns) == 0 || len(p.Columns) > maxCols:
		return w.failf("part %q: %d columns (1 to %d allowed)", p.Title, len(p.Columns), maxCols)
	}
	w.part = p
	n := len(p.Columns)
	w.base = sanitizeSheetName(p.Title, sanitizeSheetName(p.Key, "Part"))
	w.sheetNo = 0
	w.lastCol, _ = excelize.ColumnNumberToName(n)
	w.colStyle = make([]int, n)
	w.cells = make([]excelize.Cell, n)
	w.row = make([]interface{}, n)
	w.header = make([]interface{}, n)
	w.colNames = make([]string, n)
	for i := range w.colNames {
		w.colNames[i], _ = excelize.ColumnNumberToName(i + 1)
	}
	seen := make(map[string]bool, n)
	for i := range p.Columns {
		c := &p.Columns[i]
		w.colStyle[i] = w.st.forKind(c.Kind, c.Decimals, false)
		w.cells[i].StyleID = w.colStyle[i]
		// A table's header cells must be unique non-empty strings.
		h := c.Heading
		if h == "" {
			h = c.Key
		}
		if h == "" {
			h = "Column " + strconv.Itoa(i+1)
		}
		for k, base := 2, h; seen[strings.ToLower(h)]; k++ {
			h = base + " (" + strconv.Itoa(k) + ")"
		}
		seen[strings.ToLower(h)] = true
		w.header[i] = excelize.Cell{StyleID: w.st.header, Value: h}
	}
	if err := w.openSheet(); err != nil {
		return w.failf("part %q: %w", p.Title, err)
	}
	return nil
}

// openSheet starts the next sheet of the current part and writes its
// frozen header row.
func (w *Writer) openSheet() error {
	w.sheetNo++
	w.sheet = w.uniqueSheetName(w.base, w.sheetNo)
	f := w.f
	if _, err := f.NewSheet(w.sheet); err != nil {
		return fmt.Errorf("new sheet %q: %w", w.sheet, err)
	}
	if w.meta.RTL {
		if err := f.SetSheetView(w.sheet, 0, &excelize.ViewOptions{RightToLeft: boolPtr(true)}); err != nil {
			return fmt.Errorf("sheet %q: %w", w.sheet, err)
		}
	}
	sw, err := f.NewStreamWriter(w.sheet)
	if err != nil {
		return fmt.Errorf("sheet %q: %w", w.sheet, err)
	}
	w.sw = sw
	for i := range w.part.Columns {
		if width := w.part.Columns[i].Width; width > 0 {
			if err := sw.SetColWidth(i+1, i+1, min(width, maxColWidth)); err != nil {
				return fmt.Errorf("sheet %q: %w", w.sheet, err)
			}
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("sheet %q: %w", w.sheet, err)
	}
	if err := sw.SetRow("A1", w.header); err != nil {
		return fmt.Errorf("sheet %q: %w", w.sheet, err)
	}
	w.sheetRow = 1
	w.swBuf = nil
	if _, b, ok := streamBuffer(sw); ok {
		w.swBuf = b
	}
	return nil
}

// closeSheet writes the totals row (if totals is not nil), the table that
// gives the header its autofilter, and flushes the sheet.
func (w *Writer) closeSheet(totals []model.Value) error {
	sw, lastData := w.sw, w.sheetRow
	w.sw = nil
	if totals != nil {
		cols := w.part.Columns
		for i := range cols {
			v := cellValue(cols[i].Kind, &totals[i])
			if v == nil {
				w.row[i] = nil
				continue
			}
			w.cells[i] = excelize.Cell{StyleID: w.st.forKind(cols[i].Kind, cols[i].Decimals, true), Value: v}
			w.row[i] = &w.cells[i]
		}
		if w.row[0] == nil {
			w.cells[0] = excelize.Cell{StyleID: w.st.text[1], Value: label(w.meta, "totals", "Total")}
			w.row[0] = &w.cells[0]
		}
		w.sheetRow++
		if err := sw.SetRow("A"+strconv.Itoa(w.sheetRow), w.row, excelize.RowOpts{StyleID: w.st.text[1]}); err != nil {
			return fmt.Errorf("sheet %q: totals: %w", w.sheet, err)
		}
	}
	if lastData >= 2 { // a table needs at least one data row
		if err := sw.AddTable(&excelize.Table{
			Range:          "A1:" + w.lastCol + strconv.Itoa(lastData),
			ShowRowStripes: boolPtr(false),
		}); err != nil {
			return fmt.Errorf("sheet %q: table: %w", w.sheet, err)
		}
	}
	// Move what is still in memory to a temp file first, so that Flush
	// finishes the sheet there and nothing of it stays on the heap.
	if err := spill(sw, w.opts.TmpDir, 0); err != nil {
		return fmt.Errorf("sheet %q: spill to a temp file: %w", w.sheet, err)
	}
	if err := sw.Flush(); err != nil {
		return fmt.Errorf("sheet %q: flush: %w", w.sheet, err)
	}
	releaseStreamBuffer(sw)
	return nil
}

// Row writes one row of the current part, continuing on a new sheet when
// the current one is full.
func (w *Writer) Row(vals []model.Value) error {
	if w.err != nil {
		return w.err
	}
	if w.part == nil {
		return w.failf("Row outside a part")
	}
	cols := w.part.Columns
	if len(vals) != len(cols) {
		return w.failf("part %q: row has %d values, want %d", w.part.Title, len(vals), len(cols))
	}
	// Keep one row free on every sheet for the totals row: only the last
	// sheet has it, but which one is last is known only at EndPart.
	if w.sheetRow >= w.opts.MaxRowsPerSheet-1 {
		if err := w.closeSheet(nil); err != nil {
			return w.failf("part %q: %w", w.part.Title, err)
		}
		if err := w.openSheet(); err != nil {
			return w.failf("part %q: %w", w.part.Title, err)
		}
	}
	for i := range vals {
		v := cellValue(cols[i].Kind, &vals[i])
		if v == nil {
			w.row[i] = nil
			continue
		}
		w.cells[i].StyleID = w.colStyle[i]
		w.cells[i].Value = v
		w.row[i] = &w.cells[i]
	}
	w.sheetRow++
	var err error
	var ok bool
	if fastRows && w.swBuf != nil {
		w.xml, ok = appendRow(w.xml[:0], w.sheetRow, w.colNames, w.cells, w.row)
	}
	if ok {
		w.swBuf.Write(w.xml)
	} else {
		err = w.sw.SetRow("A"+strconv.Itoa(w.sheetRow), w.row)
	}
	for i := range w.cells {
		w.cells[i].Value = nil // keep no reference to the caller's strings
	}
	if err != nil {
		return w.failf("part %q: sheet %q row %d: %w", w.part.Title, w.sheet, w.sheetRow, err)
	}
	if w.sheetRow%256 == 0 {
		if err := spill(w.sw, w.opts.TmpDir, spillBytes); err != nil {
			return w.failf("part %q: sheet %q: spill to a temp file: %w", w.part.Title, w.sheet, err)
		}
	}
	return nil
}

// EndPart writes the totals row (bold; one value per column, Null where
// there is no total; a Null first cell gets the "totals" label) on the
// part's last sheet and flushes it. totals may be nil for no totals row.
// rows is not needed by this writer.
func (w *Writer) EndPart(totals []model.Value, rows int64) error {
	if w.err != nil {
		return w.err
	}
	if w.part == nil {
		return w.failf("EndPart outside a part")
	}
	if totals != nil && len(totals) != len(w.part.Columns) {
		return w.failf("part %q: %d totals, want %d", w.part.Title, len(totals), len(w.part.Columns))
	}
	if err := w.closeSheet(totals); err != nil {
		return w.failf("part %q: %w", w.part.Title, err)
	}
	w.part = nil
	return nil
}

// Close writes the workbook to the underlying writer, which it does not
// close, and removes excelize's temporary files. It returns the first
// error of the writer's life; later calls return the same.
func (w *Writer) Close() (err error) {
	if w.done {
		return w.err
	}
	w.done = true
	if w.f == nil {
		return w.fail(errors.New("xlsx: Close before Begin"))
	}
	defer func() {
		if cerr := w.f.Close(); cerr != nil {
			cerr = w.failf("remove temporary files: %w", cerr)
			if err == nil {
				err = cerr
			}
		}
	}()
	if w.err != nil {
		return w.err
	}
	if w.part != nil {
		return w.failf("Close with part %q open", w.part.Title)
	}
	// No SetActiveSheet here: the summary is the new file's first sheet and
	// already active, and SetActiveSheet would parse every streamed sheet
	// back into memory (measured: 95 MiB for a scale-16 report).
	zo := newZipOut(w.out)
	// WriteTo would build the whole zip in a bytes.Buffer; with our own
	// ZipWriter the buffer it passes stays empty and the zip goes to out.
	w.f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zo })
	if _, err := w.f.WriteTo(io.Discard); err != nil {
		return w.failf("write workbook: %w", err)
	}
	if zo.err != nil {
		return w.failf("write workbook: %w", zo.err)
	}
	return nil
}

// Discard ends a failed run: it removes the temporary files and writes
// nothing. Close after Discard returns an error.
func (w *Writer) Discard() {
	if w.done {
		return
	}
	w.done = true
	if w.err == nil {
		w.err = errors.New("xlsx: writer discarded")
	}
	if w.f != nil {
		w.f.Close()
	}
}
