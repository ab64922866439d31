package xlsx

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"lms-backup/report/model"
)

func xlsxTestMeta(rtl bool) *model.Meta {
	month := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	m := &model.Meta{
		Title:     "Monthly loan report",
		Month:     month,
		MonthText: "2024-03",
		Lang:      "en",
		Generated: time.Date(2024, 4, 1, 8, 30, 0, 0, time.UTC),
		Database:  "lms",
		Summary: []model.Figure{
			{Key: "loans", Label: "Loans", Kind: model.KindInteger, Value: model.Value{Text: "1234", Num: 1234}},
			{Key: "disbursed", Label: "Disbursed", Kind: model.KindMoney, Decimals: 3, Value: model.Value{Text: "1234567.891", Num: 1234567.891}},
			{Key: "par", Label: "PAR 30", Kind: model.KindPercent, Decimals: 1, Value: model.Value{Text: "0.125", Num: 0.125}},
		},
		Aging: model.Table{
			Title: "Aging",
			Columns: []model.Column{
				{Key: "bucket", Heading: "Bucket", Kind: model.KindText},
				{Key: "count", Heading: "Loans", Kind: model.KindInteger},
				{Key: "amount", Heading: "Outstanding", Kind: model.KindMoney, Decimals: 3},
			},
			Rows: [][]model.Value{
				{{Text: "0-30"}, {Text: "10", Num: 10}, {Text: "100.5", Num: 100.5}},
				{{Text: "31-60"}, {Text: "2", Num: 2}, {Text: "20.25", Num: 20.25}},
			},
		},
		Labels: map[string]string{"summary": "Summary", "totals": "Total", "collections": "Collections", "disbursements": "Disbursements", "day": "Day"},
	}
	for d := 0; d < 31; d++ {
		m.Daily = append(m.Daily, model.DailyPoint{Day: month.AddDate(0, 0, d), Collections: float64(d) * 10.5, Disbursements: float64(d) * 7.25})
	}
	if rtl {
		m.Title, m.Lang, m.RTL = "تقرير القروض الشهري", "ar", true
		m.Labels = map[string]string{"summary": "الملخص", "totals": "المجموع", "collections": "التحصيلات", "disbursements": "الصرف", "day": "اليوم", "chart_title": "التحصيلات والصرف"}
	}
	return m
}

func xlsxLoanColumns() []model.Column {
	return []model.Column{
		{Key: "id", Heading: "ID", Kind: model.KindInteger, Width: 10},
		{Key: "name", Heading: "Borrower", Kind: model.KindText, Width: 30},
		{Key: "amount", Heading: "Amount", Kind: model.KindMoney, Decimals: 3, Width: 16, Total: true},
		{Key: "rate", Heading: "Rate", Kind: model.KindPercent, Decimals: 1, Width: 8},
		{Key: "opened", Heading: "Opened", Kind: model.KindDate, Width: 12},
		{Key: "paid_at", Heading: "Paid at", Kind: model.KindDateTime, Width: 20},
	}
}

func xlsxLoanRow(i int) []model.Value {
	day := time.Date(2024, 3, 1+i%28, 0, 0, 0, 0, time.UTC)
	amt := float64(i*1000+123) / 1000 // i.123
	vals := []model.Value{
		{Text: strconv.Itoa(i), Num: float64(i)},
		{Text: "Borrower " + strconv.Itoa(i)},
		{Text: strconv.FormatFloat(amt, 'f', 3, 64), Num: amt},
		{Text: "0.05", Num: 0.05},
		{Text: day.Format("2006-01-02"), Time: day},
		{Text: day.Add(13*time.Hour + 5*time.Minute + 7*time.Second).Format("2006-01-02 15:04:05"), Time: day.Add(13*time.Hour + 5*time.Minute + 7*time.Second)},
	}
	if i%2 == 0 {
		vals[5] = model.Value{Null: true}
	}
	return vals
}

type xlsxTestPart struct {
	part   model.Part
	rows   int
	totals []model.Value
}

// writeXLSXFile writes a workbook with the given parts to a temp file and
// returns its path.
func writeXLSXFile(t *testing.T, m *model.Meta, o Options, parts []xlsxTestPart) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.xlsx")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := New(out, o)
	if err := w.Begin(m); err != nil {
		t.Fatal(err)
	}
	for i := range parts {
		p := &parts[i]
		if err := w.StartPart(&p.part); err != nil {
			t.Fatal(err)
		}
		for r := 1; r <= p.rows; r++ {
			if err := w.Row(xlsxLoanRow(r)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.EndPart(p.totals, int64(p.rows)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func openXLSX(t *testing.T, path string, raw bool) *excelize.File {
	t.Helper()
	f, err := excelize.OpenFile(path, excelize.Options{RawCellValue: raw})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func xlsxStyleOf(t *testing.T, f *excelize.File, sheet, cell string) *excelize.Style {
	t.Helper()
	id, err := f.GetCellStyle(sheet, cell)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.GetStyle(id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func xlsxNumFmt(st *excelize.Style) string {
	if st.CustomNumFmt != nil {
		return *st.CustomNumFmt
	}
	return ""
}

// xlsxRaw is how a float64 reads back as a raw cell value.
func xlsxRaw(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func xlsxLoanTotals(n int) []model.Value {
	var sum float64
	for i := 1; i <= n; i++ {
		sum += float64(i*1000+123) / 1000
	}
	return []model.Value{
		{Null: true}, {Null: true},
		{Text: strconv.FormatFloat(sum, 'f', 3, 64), Num: sum},
		{Null: true}, {Null: true}, {Null: true},
	}
}

func TestXLSXWorkbook(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rtl    bool
		titles []string
		sheets []string
	}{
		{"english", false, []string{"Loans", "Payments"}, []string{"Summary", "Loans", "Payments"}},
		{"arabic", true, []string{"القروض", "القروض"}, []string{"الملخص", "القروض", "القروض (2)"}},
		{"sanitised", false, []string{"Loans: a/b [x]?", "'Quoted'", strings.Repeat("Long title ", 5)}, []string{"Summary", "Loans_ a_b _x__", "Quoted", "Long title Long title Long titl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := xlsxTestMeta(tc.rtl)
			var parts []xlsxTestPart
			for i, title := range tc.titles {
				n := 10 + i
				parts = append(parts, xlsxTestPart{part: model.Part{Key: fmt.Sprint("p", i), Title: title, Columns: xlsxLoanColumns()}, rows: n, totals: xlsxLoanTotals(n)})
			}
			path := writeXLSXFile(t, m, Options{}, parts)
			f := openXLSX(t, path, true)
			if got := f.GetSheetList(); strings.Join(got, "|") != strings.Join(tc.sheets, "|") {
				t.Fatalf("sheets %q, want %q", got, tc.sheets)
			}
			for _, sheet := range tc.sheets {
				view, err := f.GetSheetView(sheet, 0)
				if err != nil {
					t.Fatal(err)
				}
				if rtl := view.RightToLeft != nil && *view.RightToLeft; rtl != tc.rtl {
					t.Errorf("sheet %q: RightToLeft %v, want %v", sheet, rtl, tc.rtl)
				}
			}
			sheet := tc.sheets[1]
			n := parts[0].rows

			// Header: bold, frozen, with an autofilter table over header+rows.
			if v, _ := f.GetCellValue(sheet, "C1"); v != "Amount" {
				t.Errorf("C1 = %q", v)
			}
			if !xlsxStyleOf(t, f, sheet, "A1").Font.Bold {
				t.Error("header not bold")
			}
			panes, err := f.GetPanes(sheet)
			if err != nil {
				t.Fatal(err)
			}
			if !panes.Freeze || panes.YSplit != 1 || panes.TopLeftCell != "A2" {
				t.Errorf("panes %+v", panes)
			}
			tables, err := f.GetTables(sheet)
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("A1:F%d", n+1); len(tables) != 1 || tables[0].Range != want {
				t.Errorf("tables %+v, want one over %s", tables, want)
			}
			if w, _ := f.GetColWidth(sheet, "B"); w != 30 {
				t.Errorf("width of B %v", w)
			}

			// Typed cells of row 4 (loan 3: odd, so paid_at is set).
			for _, c := range []struct {
				cell, raw, numFmt string
				typ               excelize.CellType
			}{
				// Numbers have no t attribute, which excelize reports as
				// CellTypeUnset; the raw value tells them from empty cells.
				{"A4", "3", "#,##0", excelize.CellTypeUnset},
				{"B4", "Borrower 3", "", excelize.CellTypeInlineString},
				{"C4", "3.123", "#,##0.000", excelize.CellTypeUnset},
				{"D4", "0.05", "0.0%", excelize.CellTypeUnset},
				{"E4", "45355", "yyyy-mm-dd", excelize.CellTypeUnset},                       // 2024-03-04
				{"F4", "45355.545219907406", "yyyy-mm-dd hh:mm:ss", excelize.CellTypeUnset}, // 13:05:07
				{"F5", "", "", excelize.CellTypeUnset},                                      // Null
			} {
				if typ, _ := f.GetCellType(sheet, c.cell); typ != c.typ {
					t.Errorf("%s: type %v, want %v", c.cell, typ, c.typ)
				}
				if v, _ := f.GetCellValue(sheet, c.cell); v != c.raw {
					t.Errorf("%s: raw %q, want %q", c.cell, v, c.raw)
				}
				if got := xlsxNumFmt(xlsxStyleOf(t, f, sheet, c.cell)); got != c.numFmt {
					t.Errorf("%s: format %q, want %q", c.cell, got, c.numFmt)
				}
			}

			// Totals row: bold, the given values, the label in column A.
			tr := strconv.Itoa(n + 2)
			if v, _ := f.GetCellValue(sheet, "A"+tr); v != m.Labels["totals"] {
				t.Errorf("totals label %q", v)
			}
			if v, _ := f.GetCellValue(sheet, "C"+tr); v != xlsxRaw(parts[0].totals[2].Num) {
				t.Errorf("totals amount %q, want %v", v, parts[0].totals[2].Num)
			}
			if st := xlsxStyleOf(t, f, sheet, "C"+tr); !st.Font.Bold || xlsxNumFmt(st) != "#,##0.000" {
				t.Errorf("totals style %+v", st)
			}
			if rows, _ := f.GetRows(sheet); len(rows) != n+2 {
				t.Errorf("%d rows, want %d", len(rows), n+2)
			}

			// Summary: title, typed figures, daily table and its chart.
			sum := tc.sheets[0]
			if v, _ := f.GetCellValue(sum, "A1"); v != m.Title {
				t.Errorf("title %q", v)
			}
			for _, c := range []struct{ cell, raw, numFmt string }{
				{"B5", "1234", "#,##0"},
				{"B6", "1234567.891", "#,##0.000"},
				{"B7", "0.125", "0.0%"},
			} {
				if v, _ := f.GetCellValue(sum, c.cell); v != c.raw {
					t.Errorf("summary %s: %q, want %q", c.cell, v, c.raw)
				}
				if got := xlsxNumFmt(xlsxStyleOf(t, f, sum, c.cell)); got != c.numFmt {
					t.Errorf("summary %s: format %q, want %q", c.cell, got, c.numFmt)
				}
			}
			chart := xlsxZipEntry(t, path, "xl/charts/chart1.xml")
			if _, ok := xlsxZipNames(t, path)["xl/drawings/drawing1.xml"]; !ok {
				t.Error("no drawing part")
			}
			if ref := sheetRef(sum) + "$B$"; !strings.Contains(html.UnescapeString(string(chart)), ref) {
				t.Errorf("chart does not refer to %s", ref)
			}
		})
	}
}

func xlsxZipNames(t *testing.T, path string) map[string]*zip.File {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zr.Close() })
	names := make(map[string]*zip.File)
	for _, f := range zr.File {
		names[f.Name] = f
	}
	return names
}

func xlsxZipEntry(t *testing.T, path, name string) []byte {
	t.Helper()
	zf, ok := xlsxZipNames(t, path)[name]
	if !ok {
		t.Fatalf("no %s in the workbook", name)
	}
	rc, err := zf.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestXLSXSplit(t *testing.T) {
	const n = 2500
	m := xlsxTestMeta(false)
	parts := []xlsxTestPart{{part: model.Part{Title: "Loans", Columns: xlsxLoanColumns()}, rows: n, totals: xlsxLoanTotals(n)}}
	path := writeXLSXFile(t, m, Options{MaxRowsPerSheet: 1000}, parts)
	f := openXLSX(t, path, true)
	want := []string{"Summary", "Loans", "Loans (2)", "Loans (3)"}
	if got := f.GetSheetList(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("sheets %q, want %q", got, want)
	}
	next := 1
	for i, sheet := range want[1:] {
		rows, err := f.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) > 1000 {
			t.Errorf("%s: %d rows over the limit", sheet, len(rows))
		}
		if rows[0][0] != "ID" || !xlsxStyleOf(t, f, sheet, "A1").Font.Bold {
			t.Errorf("%s: header %q", sheet, rows[0])
		}
		if p, _ := f.GetPanes(sheet); !p.Freeze {
			t.Errorf("%s: header not frozen", sheet)
		}
		data := rows[1:]
		last := i == 2
		if last {
			tot := data[len(data)-1]
			data = data[:len(data)-1]
			if tot[0] != "Total" || tot[2] != xlsxRaw(parts[0].totals[2].Num) {
				t.Errorf("%s: totals row %q", sheet, tot)
			}
		}
		for _, r := range data {
			if r[0] != strconv.Itoa(next) {
				t.Fatalf("%s: row %q, want id %d", sheet, r, next)
			}
			next++
		}
		if !last && len(rows) != 999 {
			t.Errorf("%s: %d rows, want 999 (header + 998, one kept for totals)", sheet, len(rows))
		}
	}
	if next != n+1 {
		t.Errorf("read %d rows, want %d", next-1, n)
	}
}

func TestXLSXErrors(t *testing.T) {
	m := xlsxTestMeta(false)
	t.Run("row outside part", func(t *testing.T) {
		w := New(io.Discard, Options{TmpDir: t.TempDir()})
		if err := w.Begin(m); err != nil {
			t.Fatal(err)
		}
		err := w.Row(xlsxLoanRow(1))
		if err == nil || !strings.HasPrefix(err.Error(), "xlsx: ") {
			t.Fatalf("err %v", err)
		}
		if err2 := w.Close(); err2 != err {
			t.Errorf("Close: %v, want the sticky %v", err2, err)
		}
	})
	t.Run("wrong width", func(t *testing.T) {
		w := New(io.Discard, Options{TmpDir: t.TempDir()})
		_ = w.Begin(m)
		_ = w.StartPart(&model.Part{Title: "P", Columns: xlsxLoanColumns()})
		if err := w.Row([]model.Value{{Text: "x"}}); err == nil {
			t.Fatal("no error for a short row")
		}
		if err := w.Close(); err == nil {
			t.Fatal("Close lost the error")
		}
	})
	t.Run("write error", func(t *testing.T) {
		w := New(xlsxFailWriter{}, Options{TmpDir: t.TempDir()})
		_ = w.Begin(m)
		if err := w.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("Close: %v", err)
		}
	})
}

type xlsxFailWriter struct{}

func (xlsxFailWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }

func TestXLSXSheetName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Loans", "Loans"},
		{"a:b/c\\d?e*f[g]", "a_b_c_d_e_f_g_"},
		{"  'x'  ", "x"},
		{"", "Part"},
		{"history", "history_"},
		{strings.Repeat("ب", 40), strings.Repeat("ب", 31)},
		{strings.Repeat("😀", 20), strings.Repeat("😀", 15)}, // 2 UTF-16 units each
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := sanitizeSheetName(tc.in, "Part"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestXLSXZip64Patch lowers the ZIP64 threshold so that every entry counts
// as big and checks that the local headers are patched to version 4.5 in
// place and the archive still reads.
func TestXLSXZip64Patch(t *testing.T) {
	old := zip64Threshold
	zip64Threshold = 1
	defer func() { zip64Threshold = old }()
	path := filepath.Join(t.TempDir(), "z.zip")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := out.Write([]byte("prefix")); err != nil { // the zip need not start at 0
		t.Fatal(err)
	}
	z := newZipOut(out)
	for _, name := range []string{"a.xml", "dir/b.xml"} {
		fw, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(fw, "<x>%s</x>", name)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	b, _ := os.ReadFile(path)
	if len(z.big) != 2 {
		t.Fatalf("%d big entries", len(z.big))
	}
	for _, off := range z.big {
		h := b[6+off:]
		if !bytes.HasPrefix(h, []byte("PK\x03\x04")) || binary.LittleEndian.Uint16(h[4:]) != 45 {
			t.Errorf("header at %d: % x", off, h[:8])
		}
	}
	zr, err := zip.NewReader(bytes.NewReader(b[6:]), int64(len(b)-6))
	if err != nil || len(zr.File) != 2 {
		t.Fatalf("read back: %v", err)
	}
	// Not seekable: an error rather than a file Excel calls corrupt.
	z = newZipOut(io.Discard)
	fw, _ := z.Create("a.xml")
	fw.Write([]byte("x"))
	if err := z.Close(); err == nil {
		t.Error("no error for ZIP64 on a non-seekable writer")
	}
}

// TestXLSXMemory streams 200,000 rows x 8 columns and checks that the heap
// stays bounded: excelize keeps 16 MiB of sheet XML in memory, spills the
// rest to TmpDir, Close zips straight to the file, and a part split over
// several sheets does not keep a buffer per sheet.
func TestXLSXMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	for _, tc := range []struct {
		name    string
		perPart int // MaxRowsPerSheet
		sheets  []string
	}{
		{"one sheet", 0, []string{"Summary", "Loans"}},
		{"five sheets", 50_000, []string{"Summary", "Loans", "Loans (2)", "Loans (3)", "Loans (4)", "Loans (5)"}},
	} {
		t.Run(tc.name, func(t *testing.T) { testXLSXMemory(t, tc.perPart, tc.sheets) })
	}
}

func testXLSXMemory(t *testing.T, perSheet int, sheets []string) {
	const (
		n      = 200_000
		budget = 80 << 20
	)
	cols := append(xlsxLoanColumns(), model.Column{Key: "balance", Heading: "Balance", Kind: model.KindMoney, Decimals: 3}, model.Column{Key: "note", Heading: "Note", Kind: model.KindText})
	tmp := t.TempDir()
	path := filepath.Join(t.TempDir(), "big.xlsx")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	runtime.GC()
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var (
		peak uint64
		wg   sync.WaitGroup
		stop = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			peak = max(peak, samples[0].Value.Uint64())
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	start := time.Now()
	w := New(out, Options{TmpDir: tmp, MaxRowsPerSheet: perSheet})
	if err := w.Begin(xlsxTestMeta(false)); err != nil {
		t.Fatal(err)
	}
	if err := w.StartPart(&model.Part{Title: "Loans", Columns: cols}); err != nil {
		t.Fatal(err)
	}
	vals := make([]model.Value, 0, len(cols))
	for i := 1; i <= n; i++ {
		vals = append(vals[:0], xlsxLoanRow(i)...)
		vals = append(vals, model.Value{Text: "1000.5", Num: 1000.5}, model.Value{Text: "note " + strconv.Itoa(i)})
		if err := w.Row(vals); err != nil {
			t.Fatal(err)
		}
	}
	spill, _ := filepath.Glob(filepath.Join(tmp, "excelize-*"))
	totals := append(xlsxLoanTotals(n), model.Value{Null: true}, model.Value{Null: true})
	if err := w.EndPart(totals, n); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rows x %d columns on %d sheets: heap peak %.1f MiB, file %.1f MiB, %v", n, len(cols), len(sheets)-1, float64(peak)/(1<<20), float64(fi.Size())/(1<<20), elapsed.Round(time.Millisecond))
	if peak > budget {
		t.Errorf("heap peak %.1f MiB over %d MiB", float64(peak)/(1<<20), budget>>20)
	}
	if len(spill) == 0 {
		t.Error("no spill file in TmpDir while streaming")
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	if fi.Size() < 2<<20 || fi.Size() > 40<<20 {
		t.Errorf("file size %d", fi.Size())
	}

	f := openXLSX(t, path, true)
	if got := f.GetSheetList(); strings.Join(got, "|") != strings.Join(sheets, "|") {
		t.Fatalf("sheets %q, want %q", got, sheets)
	}
	rows, err := f.Rows(sheets[len(sheets)-1])
	if err != nil {
		t.Fatal(err)
	}
	var count int
	var last, beforeLast []string
	for rows.Next() {
		count++
		beforeLast = last
		if last, err = rows.Columns(); err != nil {
			t.Fatal(err)
		}
	}
	rows.Close()
	if want := n - (len(sheets)-2)*(perSheet-2) + 2; count != want {
		t.Errorf("%d rows on the last sheet, want %d", count, want)
	}
	if beforeLast[0] != strconv.Itoa(n) || beforeLast[7] != "note "+strconv.Itoa(n) {
		t.Errorf("last data row %q", beforeLast)
	}
	if last[0] != "Total" || last[2] != xlsxRaw(totals[2].Num) {
		t.Errorf("totals row %q", last)
	}
}
