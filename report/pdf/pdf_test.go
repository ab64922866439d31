package pdf

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"lms-backup/report/model"
)

var pdfKeep = flag.Bool("pdf.keep", false, "keep the PDFs and PNGs of the PDF tests in testdata/pdf/out")

func pdfLabels(ar bool) map[string]string {
	if ar {
		return map[string]string{
			"summary": "الملخص", "chart_title": "التحصيل والصرف اليومي",
			"collections": "التحصيل", "disbursements": "الصرف", "day": "اليوم",
			"page": "صفحة", "of": "من", "generated": "أنشئ في", "totals": "المجموع",
			"rows_in_workbook_only": "%d صفاً إضافياً في المصنف فقط", "part": "جزء",
		}
	}
	return map[string]string{
		"summary": "Summary", "chart_title": "Collections and disbursements per day",
		"collections": "Collections", "disbursements": "Disbursements", "day": "Day",
		"page": "Page", "of": "of", "generated": "Generated", "totals": "Totals",
		"rows_in_workbook_only": "%d more rows are in the workbook only", "part": "Part",
	}
}

func testMeta(ar bool) *model.Meta {
	month := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	m := &model.Meta{
		Title: "Monthly loan report", Month: month, MonthText: "2024-03", Lang: "en",
		Generated: time.Date(2024, 4, 2, 8, 30, 0, 0, time.UTC), Database: "lms_prod",
		Labels: pdfLabels(ar),
	}
	if ar {
		m.Title, m.Lang, m.RTL = "تقرير القروض الشهري", "ar", true
	}
	m.Summary = []model.Figure{
		{Key: "loans", Label: "Active loans", Kind: model.KindInteger, Value: model.Value{Text: "15234", Num: 15234}},
		{Key: "out", Label: "Outstanding principal", Kind: model.KindMoney, Decimals: 3, Value: model.Value{Text: "1234567.125", Num: 1234567.125}},
		{Key: "par", Label: "Portfolio at risk", Kind: model.KindPercent, Decimals: 1, Value: model.Value{Num: 0.0425}},
	}
	if ar {
		m.Summary[0].Label, m.Summary[1].Label, m.Summary[2].Label = "القروض النشطة", "أصل القروض القائم", "المحفظة المعرضة للخطر"
	}
	m.Aging = model.Table{
		Title: "Aging",
		Columns: []model.Column{
			{Key: "bucket", Heading: "Bucket", Kind: model.KindText, Width: 20},
			{Key: "loans", Heading: "Loans", Kind: model.KindInteger, Width: 10},
			{Key: "amount", Heading: "Amount", Kind: model.KindMoney, Decimals: 3, Width: 16},
		},
	}
	for i, b := range []string{"0-30", "31-60", "61-90", "90+"} {
		m.Aging.Rows = append(m.Aging.Rows, []model.Value{{Text: b}, {Text: strconv.Itoa(100 * (i + 1))}, {Text: strconv.Itoa(5000*(4-i)) + ".5"}})
	}
	for d := 0; d < 31; d++ {
		m.Daily = append(m.Daily, model.DailyPoint{
			Day:           month.AddDate(0, 0, d),
			Collections:   float64(1000 + (d*7919)%5000),
			Disbursements: float64((d * 3571) % 6000),
		})
	}
	return m
}

func testPart(ar bool) *model.Part {
	title := "Loans"
	if ar {
		title = "القروض"
	}
	return &model.Part{Key: "loans", Title: title, InPDF: true, Columns: []model.Column{
		{Key: "ref", Heading: "Loan ref", Kind: model.KindText, Width: 10},
		{Key: "name", Heading: "Borrower", Kind: model.KindText, Width: 22},
		{Key: "opened", Heading: "Opened", Kind: model.KindDate, Width: 10},
		{Key: "count", Heading: "Payments", Kind: model.KindInteger, Width: 8, Total: true},
		{Key: "amount", Heading: "Amount", Kind: model.KindMoney, Decimals: 3, Width: 14, Total: true},
		{Key: "rate", Heading: "Rate", Kind: model.KindPercent, Decimals: 2, Width: 7},
	}}
}

var testNames = []string{"عبدالله محمد", "فاطمة الزهراء", "Layla Haddad", "A borrower with a very long name that cannot fit in its cell at all", "عبدالرحمن بن عبدالعزيز بن محمد بن إبراهيم آل عبداللطيف الطويل"}

func testRow(i int) []model.Value {
	day := time.Date(2024, 3, 1+i%28, 0, 0, 0, 0, time.UTC)
	return []model.Value{
		{Text: fmt.Sprintf("L-%05d", i)},
		{Text: testNames[i%len(testNames)]},
		{Text: day.Format("2006-01-02"), Time: day},
		{Text: strconv.Itoa(i % 13), Num: float64(i % 13)},
		{Text: "1234567.125", Num: 1234567.125},
		{Num: 0.125},
	}
}

// writeTestReport writes a report with one part of rows rows and returns Close's error.
func writeTestReport(t *testing.T, w *Writer, ar bool, rows int, extraName string) error {
	t.Helper()
	if err := w.Begin(testMeta(ar)); err != nil {
		t.Fatalf("Begin: %v", err)
	}
	// A part that is not in the PDF must not appear at all.
	hidden := &model.Part{Key: "hidden", Title: "Hidden part", Columns: []model.Column{{Heading: "Secret", Kind: model.KindText}}}
	if err := w.StartPart(hidden); err != nil {
		t.Fatal(err)
	}
	if err := w.Row([]model.Value{{Text: "secret"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.EndPart([]model.Value{{Null: true}}, 1); err != nil {
		t.Fatal(err)
	}
	if err := w.StartPart(testPart(ar)); err != nil {
		t.Fatalf("StartPart: %v", err)
	}
	for i := range rows {
		vals := testRow(i)
		if i == 0 && extraName != "" {
			vals[1].Text = extraName
		}
		if err := w.Row(vals); err != nil {
			return err
		}
	}
	totals := []model.Value{{Null: true}, {Null: true}, {Null: true}, {Text: "42", Num: 42}, {Text: "987654321.5"}, {Null: true}}
	if err := w.EndPart(totals, int64(rows)); err != nil {
		return err
	}
	return w.Close()
}

func pdfText(t *testing.T, pdf []byte) []string {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "r.pdf")
	if err := os.WriteFile(in, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", in, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	pages := strings.Split(string(out), "\f")
	if len(pages) > 0 && strings.TrimSpace(pages[len(pages)-1]) == "" {
		pages = pages[:len(pages)-1]
	}
	return pages
}

func keepPDF(t *testing.T, name string, pdf []byte) {
	if !*pdfKeep {
		return
	}
	dir := filepath.Join("testdata", "pdf", "out")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), pdf, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPDFEnglish(t *testing.T) {
	var buf bytes.Buffer
	if err := writeTestReport(t, New(&buf, Options{}), false, 60, ""); err != nil {
		t.Fatalf("Close: %v", err)
	}
	keepPDF(t, "en.pdf", buf.Bytes())
	pages := pdfText(t, buf.Bytes())
	all := strings.Join(pages, "\f")
	n := len(pages)
	for _, want := range []string{
		"Monthly loan report", "2024-03", "lms_prod", "Summary", "Outstanding principal",
		"1,234,567.125", "15,234", "4.3%", "12.50%", "Aging", "20,000.500", "Collections",
		"Disbursements", "Loans", "Layla Haddad", "L-00059", "2024-03-01", "Totals",
		"987,654,321.500", "…", "Generated: 2024-04-02 08:30 UTC", "Page 1 of " + strconv.Itoa(n),
		"Page " + strconv.Itoa(n) + " of " + strconv.Itoa(n),
	} {
		if !strings.Contains(all, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
	for _, unwanted := range []string{"Hidden part", "secret", "workbook only"} {
		if strings.Contains(all, unwanted) {
			t.Errorf("PDF text has %q", unwanted)
		}
	}
	for i, pg := range pages {
		if want := fmt.Sprintf("Page %d of %d", i+1, n); !strings.Contains(pg, want) {
			t.Errorf("page %d lacks %q", i+1, want)
		}
	}
}

func TestPDFMaxRows(t *testing.T) {
	var buf bytes.Buffer
	if err := writeTestReport(t, New(&buf, Options{MaxRows: 100}), false, 5000, ""); err != nil {
		t.Fatalf("Close: %v", err)
	}
	pages := pdfText(t, buf.Bytes())
	if len(pages) < 3 || len(pages) > 6 {
		t.Errorf("%d pages for 100 shown rows, want 3 to 6", len(pages))
	}
	all := strings.Join(pages, "\f")
	if !strings.Contains(all, "4900 more rows are in the workbook only") {
		t.Error("no rows_in_workbook_only line with 4900")
	}
	if !strings.Contains(all, "L-00099") || strings.Contains(all, "L-00100") {
		t.Error("want rows L-00000 to L-00099 exactly")
	}
	tablePages := 0
	for i, pg := range pages {
		if !strings.Contains(pg, "L-0") {
			continue
		}
		tablePages++
		if c := strings.Count(pg, "Loan ref"); c != 1 {
			t.Errorf("page %d has the header %d times, want 1", i+1, c)
		}
	}
	if tablePages < 2 {
		t.Errorf("table spans %d pages, want a multi-page table", tablePages)
	}
}

func TestPDFMissingGlyph(t *testing.T) {
	var buf bytes.Buffer
	err := writeTestReport(t, New(&buf, Options{}), false, 3, "Smile 😀")
	if err == nil || !strings.Contains(err.Error(), "U+1F600") || !strings.HasPrefix(err.Error(), "pdf: ") {
		t.Fatalf("Close = %v, want an error naming U+1F600", err)
	}
}

var errDiskFull = errors.New("disk full")

type failWriter struct{ n int }

func (f *failWriter) Write(b []byte) (int, error) {
	if f.n+len(b) <= 1000 {
		f.n += len(b)
		return len(b), nil
	}
	return 0, errDiskFull
}

func TestPDFWriteError(t *testing.T) {
	w := New(&failWriter{}, Options{})
	err := writeTestReport(t, w, false, 3, "")
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("Close = %v, want %v", err, errDiskFull)
	}
	if err2 := w.Close(); !errors.Is(err2, errDiskFull) {
		t.Errorf("second Close = %v, want the sticky error", err2)
	}
	if err := w.Row(nil); err == nil {
		t.Error("Row after Close succeeded")
	}
}

func TestPDFArabic(t *testing.T) {
	var buf bytes.Buffer
	if err := writeTestReport(t, New(&buf, Options{}), true, 40, ""); err != nil {
		t.Fatalf("Close: %v", err)
	}
	keepPDF(t, "ar.pdf", buf.Bytes())
	pages := pdfText(t, buf.Bytes())
	all := strings.Join(pages, "\f")
	for _, want := range []string{"1,234,567.125", "Layla Haddad", "2024-03"} {
		if !strings.Contains(all, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "ar.pdf")
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", in, filepath.Join(dir, "page")).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	if len(pngs) != 1 {
		t.Fatalf("pdftoppm made %v, want one PNG", pngs)
	}
	png, err := os.ReadFile(pngs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(png) < 5000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("page 1 PNG is %d bytes, want a non-trivial PNG", len(png))
	}
	keepPDF(t, "ar-1.png", png)
}
