// Package pdf writes a report as an A4 PDF with gopdf: title block, summary,
// aging table, daily chart and one capped table per part, with Arabic text
// shaped and ordered by report/arabic. It implements model.Writer and knows
// nothing of templates or SQL.
package pdf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/signintech/gopdf"

	"lms-backup/report/format"
	"lms-backup/report/model"
)

// Options configures New. The zero value is ready to use.
type Options struct {
	// MaxRows is how many rows of each part the PDF draws; later rows are
	// only counted and mentioned in one line (they are in the workbook).
	// gopdf holds every page in memory until Close, so this bounds memory.
	// 0 means 2000.
	MaxRows int
}

const defaultMaxRows = 2000

var _ model.Writer = (*Writer)(nil)

// Page geometry in points (1/72 inch), y growing downwards from the top edge.
const (
	pageW    = 595.28 // A4
	pageH    = 841.89
	margin   = 42.52 // 15 mm
	contentW = pageW - 2*margin
	bottomY  = pageH - margin // lowest y content may reach

	rowH      = 13.0 // table body row
	headH     = 15.0 // table header row
	cellPad   = 2.5
	tableSize = 7.5
)

// Fonts, indexed: base font (fontSans or fontNaskh) + 1 for bold.
const (
	fontSans  = 0
	fontNaskh = 2
	numFonts  = 4
)

var fontFiles = [numFonts]struct {
	family, file string
	style        int
}{
	{"sans", "fonts/NotoSans-Regular.ttf", gopdf.Regular},
	{"sans", "fonts/NotoSans-Bold.ttf", gopdf.Bold},
	{"naskh", "fonts/NotoNaskhArabic-Regular.ttf", gopdf.Regular},
	{"naskh", "fonts/NotoNaskhArabic-Bold.ttf", gopdf.Bold},
}

// Horizontal alignment within a box, visual (not logical).
const (
	alignLeft = iota
	alignRight
	alignCenter
)

// errClosed is returned by calls after Close.
var errClosed = errors.New("pdf: writer is closed")

// Writer writes the report as an A4 PDF with gopdf. It implements
// model.Writer: Begin draws the title block, the summary, the aging table and
// the daily chart; each part with InPDF becomes a section whose table
// repeats its header on every page, capped at Options.MaxRows rows.
// Every page is held in memory until Close, which adds the page footers
// and writes the whole document to w (which it does not close). Text goes
// through arabic.Visual and is drawn run by run in Noto Sans or Noto Naskh
// Arabic, falling back to the other font for a character the first lacks;
// a character neither font has makes Close fail. Errors are sticky. A
// Writer is not safe for concurrent use.
type Writer struct {
	w   io.Writer
	max int64
	pdf *gopdf.GoPdf
	err error

	begun, closed bool
	meta          *model.Meta
	rtl           bool
	generated     string
	pages         int
	y             float64 // top of the free space on the current page

	curFont int // font set in gopdf, -1 when unknown
	curSize float64
	glyphs  map[glyphKey]glyphInfo
	missing map[rune]struct{}
	segs    []textSeg // layout of the last measured string
	buf     []byte    // reused for formatting

	// current table
	cols    []tableCol
	inTable bool
	zebra   bool
	skip    bool // current part is not in the PDF
	shown   int64
	seen    int64
}

type glyphKey struct {
	r    rune
	font int
}

type glyphInfo struct {
	ok bool
	w  float64 // advance at font size 1
}

type textSeg struct {
	font int
	text string
	w    float64 // at font size 1
}

type tableCol struct {
	x, w float64 // absolute, already mirrored for RTL
	col  model.Column
}

// New returns a Writer that writes to w at Close. Loading the
// embedded fonts happens here; an error is reported by the first call.
func New(w io.Writer, o Options) *Writer {
	p := &Writer{
		w:       w,
		max:     int64(o.MaxRows),
		curFont: -1,
		glyphs:  make(map[glyphKey]glyphInfo),
		missing: make(map[rune]struct{}),
	}
	if p.max <= 0 {
		p.max = defaultMaxRows
	}
	p.pdf = new(gopdf.GoPdf)
	p.pdf.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4, Unit: gopdf.UnitPT})
	fonts, err := loadFonts()
	if err != nil {
		p.err = err
		return p
	}
	for i, f := range fontFiles {
		data := fonts[i]
		opt := gopdf.TtfOption{Style: f.style, OnGlyphNotFound: p.glyphNotFound}
		if err := p.pdf.AddTTFFontDataWithOption(f.family, data, opt); err != nil {
			p.err = fmt.Errorf("pdf: load font %s: %w", f.file, err)
			return p
		}
	}
	return p
}

// glyphNotFound is gopdf's OnGlyphNotFound: the rune would become a blank.
func (p *Writer) glyphNotFound(r rune) { p.missing[r] = struct{}{} }

func (p *Writer) fail(err error) {
	if p.err == nil && err != nil {
		p.err = err
	}
}

func (p *Writer) check() error {
	if p.closed {
		return errClosed
	}
	return p.err
}

// Begin draws the first page: title block, summary, aging table, chart.
func (p *Writer) Begin(m *model.Meta) error {
	if err := p.check(); err != nil {
		return err
	}
	if p.begun {
		p.fail(errors.New("pdf: begin called twice"))
		return p.err
	}
	p.begun = true
	p.meta = m
	p.rtl = m.RTL
	p.generated = m.Generated.Format("2006-01-02 15:04 MST")
	p.newPage()
	p.pdf.SetTextColor(0, 0, 0)

	p.text(margin, p.y, contentW, 24, m.Title, p.start(), true, 16)
	p.y += 26
	sub := m.MonthText
	if m.Database != "" {
		sub += "  |  " + m.Database
	}
	p.text(margin, p.y, contentW, 14, sub, p.start(), false, 10)
	p.y += 14
	p.pdf.SetTextColor(90, 90, 90)
	p.text(margin, p.y, contentW, 12, p.label("generated", "Generated")+": "+p.generated, p.start(), false, 8)
	p.pdf.SetTextColor(0, 0, 0)
	p.y += 20

	if len(m.Summary) > 0 {
		p.summary(m.Summary)
	}
	if len(m.Aging.Columns) > 0 {
		p.ensure(20 + headH + rowH)
		p.heading(m.Aging.Title)
		p.beginTable(m.Aging.Columns)
		for _, r := range m.Aging.Rows {
			p.row(r, false, "")
		}
		p.inTable = false
		p.y += 12
	}
	if len(m.Daily) > 0 {
		p.chart(m.Daily)
	}
	return p.err
}

// StartPart starts a section for a part with InPDF; other parts are skipped.
func (p *Writer) StartPart(part *model.Part) error {
	if err := p.check(); err != nil {
		return err
	}
	if !p.begun {
		p.fail(errors.New("pdf: start part before begin"))
		return p.err
	}
	p.shown, p.seen = 0, 0
	p.skip = !part.InPDF
	if p.skip {
		return nil
	}
	p.ensure(22 + headH + 3*rowH)
	p.heading(part.Title)
	p.beginTable(part.Columns)
	return p.err
}

// Row draws one row unless the part already shows MaxRows rows.
func (p *Writer) Row(vals []model.Value) error {
	if err := p.check(); err != nil {
		return err
	}
	if p.skip {
		return nil
	}
	p.seen++
	if p.shown >= p.max {
		return nil
	}
	p.shown++
	p.row(vals, false, "")
	return p.err
}

// EndPart notes the rows left out of the PDF and draws the totals row.
func (p *Writer) EndPart(totals []model.Value, rows int64) error {
	if err := p.check(); err != nil {
		return err
	}
	if p.skip {
		p.skip = false
		return nil
	}
	if rows < p.seen {
		rows = p.seen
	}
	if hidden := rows - p.shown; hidden > 0 {
		p.ensure(rowH + 2)
		p.pdf.SetTextColor(150, 40, 40)
		// The label comes from the template: replace its %d, never use it as a format.
		note := strings.Replace(p.label("rows_in_workbook_only", "%d more rows are in the workbook only"), "%d", strconv.FormatInt(int64(hidden), 10), 1)
		p.text(margin, p.y, contentW, rowH+2, note, p.start(), false, tableSize+0.5)
		p.pdf.SetTextColor(0, 0, 0)
		p.y += rowH + 2
	}
	if len(totals) > 0 {
		p.ensure(rowH + 1)
		p.rule(p.y, 0.8, 90)
		p.zebra = false
		p.row(totals, true, p.label("totals", "Totals"))
	}
	p.inTable = false
	p.y += 14
	return p.err
}

// Discard ends a failed run without drawing footers or writing anything;
// the pages are dropped. Close after Discard returns an error.
func (p *Writer) Discard() {
	if p.closed {
		return
	}
	p.closed = true
	if p.err == nil {
		p.err = errors.New("pdf: writer discarded")
	}
	p.pdf = nil
}

// Close adds "Page X of Y" and the generation time to every page and
// writes the document. It fails, writing nothing, when a character had no
// glyph in either font. It does not close the underlying writer.
func (p *Writer) Close() error {
	if p.closed {
		return p.err
	}
	p.closed = true
	if p.err != nil {
		return p.err
	}
	defer func() { p.pdf = nil }() // the pages can go now
	if p.pages == 0 {
		p.newPage()
	}
	p.footers()
	if p.err != nil {
		return p.err
	}
	if len(p.missing) > 0 {
		p.err = missingGlyphsError(p.missing)
		return p.err
	}
	// gopdf ignores most write errors; bufio.Writer keeps the first one,
	// refuses later writes and returns it from Flush.
	bw := bufio.NewWriterSize(p.w, 64<<10)
	_, werr := p.pdf.WriteTo(bw)
	if err := bw.Flush(); err != nil {
		p.err = fmt.Errorf("pdf: write: %w", err)
	} else if werr != nil {
		p.err = fmt.Errorf("pdf: write: %w", werr)
	}
	return p.err
}

func missingGlyphsError(m map[rune]struct{}) error {
	rs := make([]rune, 0, len(m))
	for r := range m {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	var b strings.Builder
	b.WriteString("pdf: font has no glyph for ")
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "U+%04X (%q)", r, r)
	}
	b.WriteString(": neither Noto Sans nor Noto Naskh Arabic draws it")
	return errors.New(b.String())
}

// footers revisits every page (all are in memory) to write the footer.
func (p *Writer) footers() {
	pageL, ofL := p.label("page", "Page"), p.label("of", "of")
	gen := p.label("generated", "Generated") + ": " + p.generated
	total := strconv.Itoa(p.pages)
	const top, h = bottomY + 8, 12
	for i := 1; i <= p.pages && p.err == nil; i++ {
		if err := p.pdf.SetPage(i); err != nil {
			p.fail(fmt.Errorf("pdf: footer of page %d: %w", i, err))
			return
		}
		p.pdf.SetTextColor(90, 90, 90)
		p.text(p.xs(0, contentW/2), top, contentW/2, h, gen, p.start(), false, 7.5)
		s := pageL + " " + strconv.Itoa(i) + " " + ofL + " " + total
		p.text(p.xs(contentW/2, contentW/2), top, contentW/2, h, s, p.end(), false, 7.5)
	}
}

func (p *Writer) label(key, def string) string {
	if p.meta != nil {
		if s, ok := p.meta.Labels[key]; ok && s != "" {
			return s
		}
	}
	return def
}

// start and end are the visual alignments of the reading direction's
// start and end sides.
func (p *Writer) start() int {
	if p.rtl {
		return alignRight
	}
	return alignLeft
}

func (p *Writer) end() int {
	if p.rtl {
		return alignLeft
	}
	return alignRight
}

// xs maps a box at offset off from the start side of the content area to
// its absolute left edge: the page is mirrored for RTL.
func (p *Writer) xs(off, w float64) float64 {
	if p.rtl {
		return pageW - margin - off - w
	}
	return margin + off
}

func (p *Writer) newPage() {
	p.pdf.AddPage()
	p.pages++
	// Draw at once: SetPage counts content streams, which gopdf creates
	// lazily on the first drawing, so every page must get one in order.
	p.rule(bottomY+5, 0.4, 170)
	p.y = margin
	if p.inTable {
		p.header()
	}
}

// ensure starts a new page unless h points fit below y.
func (p *Writer) ensure(h float64) {
	if p.y+h > bottomY {
		p.newPage()
	}
}

// rule draws a horizontal line across the content area.
func (p *Writer) rule(y, width float64, gray uint8) {
	p.pdf.SetLineWidth(width)
	p.pdf.SetStrokeColor(gray, gray, gray)
	p.pdf.Line(margin, y, pageW-margin, y)
}

func (p *Writer) fill(x, y, w, h float64, r, g, b uint8) {
	p.pdf.SetFillColor(r, g, b)
	p.pdf.RectFromUpperLeftWithStyle(x, y, w, h, "F")
}

func (p *Writer) heading(s string) {
	p.text(margin, p.y, contentW, 18, s, p.start(), true, 11.5)
	p.y += 20
}

func (p *Writer) summary(figs []model.Figure) {
	const labelW, valueW, h = 220.0, 130.0, 14.0
	p.ensure(20 + 2*h)
	p.heading(p.label("summary", "Summary"))
	for i, f := range figs {
		p.ensure(h)
		if i%2 == 0 {
			p.fill(p.xs(0, labelW+valueW), p.y, labelW+valueW, h, 244, 246, 249)
		}
		p.text(p.xs(cellPad, labelW-2*cellPad), p.y, labelW-2*cellPad, h, f.Label, p.start(), false, 8.5)
		v := p.format(f.Kind, f.Decimals, f.Value)
		p.text(p.xs(labelW+cellPad, valueW-2*cellPad), p.y, valueW-2*cellPad, h, v, p.end(), true, 8.5)
		p.y += h
	}
	p.y += 14
}

// beginTable lays out cols over the content width and draws the header,
// which newPage repeats until inTable is cleared.
func (p *Writer) beginTable(cols []model.Column) {
	sum := 0.0
	for _, c := range cols {
		sum += colWidth(c)
	}
	p.cols = p.cols[:0]
	off := 0.0
	for _, c := range cols {
		w := colWidth(c) / sum * contentW
		p.cols = append(p.cols, tableCol{x: p.xs(off, w), w: w, col: c})
		off += w
	}
	p.inTable = true
	p.zebra = false
	p.header()
}

func colWidth(c model.Column) float64 {
	switch {
	case c.Width <= 0:
		return 12
	case c.Width < 3:
		return 3
	}
	return c.Width
}

func (p *Writer) header() {
	p.fill(margin, p.y, contentW, headH, 222, 228, 238)
	for _, c := range p.cols {
		p.text(c.x+cellPad, p.y, c.w-2*cellPad, headH, c.col.Heading, p.align(c.col.Kind), true, tableSize)
	}
	p.y += headH
}

func (p *Writer) align(k model.Kind) int {
	switch k {
	case model.KindInteger, model.KindMoney, model.KindPercent:
		return p.end()
	}
	return p.start()
}

// row draws one table row; a null first cell shows first instead.
func (p *Writer) row(vals []model.Value, bold bool, first string) {
	p.ensure(rowH)
	if p.zebra {
		p.fill(margin, p.y, contentW, rowH, 245, 246, 248)
	}
	p.zebra = !p.zebra
	for i, c := range p.cols {
		if i >= len(vals) {
			break
		}
		s := p.format(c.col.Kind, c.col.Decimals, vals[i])
		if i == 0 && vals[i].Null && first != "" {
			s = first
		}
		p.text(c.x+cellPad, p.y, c.w-2*cellPad, rowH, s, p.align(c.col.Kind), bold, tableSize)
	}
	p.y += rowH
}

// format returns v as the PDF shows a value of kind k (see
// format.AppendValue). The result does not alias p.buf.
func (p *Writer) format(k model.Kind, decimals int, v model.Value) string {
	switch {
	case v.Null:
		return ""
	case k != model.KindMoney && k != model.KindInteger && k != model.KindPercent:
		return v.Text // text, date, datetime: the text as given
	}
	p.buf = format.AppendValue(p.buf[:0], k, decimals, v)
	return string(p.buf)
}
