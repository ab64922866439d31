package xlsx

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"lms-backup/report/model"
)

// TestFastRowIsSetRow writes the same rows with appendRow and through
// excelize's SetRow: the sheets and styles of the two workbooks have the same bytes,
// for plain values and for the ones appendRow leaves to SetRow.
func TestFastRowIsSetRow(t *testing.T) {
	cols := []model.Column{
		{Key: "n", Heading: "N", Kind: model.KindInteger},
		{Key: "s", Heading: "S", Kind: model.KindText},
		{Key: "m", Heading: "M", Kind: model.KindMoney, Decimals: 3},
		{Key: "p", Heading: "P", Kind: model.KindPercent, Decimals: 1},
		{Key: "d", Heading: "D", Kind: model.KindDate},
		{Key: "t", Heading: "T", Kind: model.KindDateTime},
	}
	date := func(y int, m time.Month, d, h, min, s int) model.Value {
		t := time.Date(y, m, d, h, min, s, 0, time.UTC)
		return model.Value{Text: t.Format("2006-01-02 15:04:05"), Time: t}
	}
	num := func(text string, v float64) model.Value { return model.Value{Text: text, Num: v} }
	text := func(s string) model.Value { return model.Value{Text: s} }
	null := model.Value{Null: true}
	rows := [][]model.Value{
		{num("0", 0), text("plain"), num("0.1", 0.1), num("0.125", 0.125), date(2024, 3, 1, 0, 0, 0), date(2024, 3, 31, 23, 59, 59)},
		{num("-5", -5), text(`a&b<c>"d'e`), num("1234567.891", 1234567.891), num("-0.005", -0.005), date(1900, 1, 1, 0, 0, 0), date(1900, 2, 28, 12, 0, 0)},
		{num("9223372036854775807", 9.223372036854775807e18), text("عبدالله محمد"), num("1e21", 1e21), num("5e-324", 5e-324), date(1900, 3, 1, 0, 0, 0), date(2189, 1, 1, 0, 0, 1)},
		{num("12.0", 12), text(""), null, null, null, null},
		{null, text(" leading"), num("1", 1), null, date(1899, 12, 31, 0, 0, 0), date(2200, 1, 1, 0, 0, 0)},
		{num("1", 1), text("trailing "), null, null, null, null},
		{num("2", 2), text("tab\tand\nnewline"), null, null, null, null},
		{num("3", 3), text("_x0041_ and x_y"), null, null, null, null},
		{num("4", 4), text("bad \xff utf-8 and \uFFFE"), null, null, null, null},
		{num("5", 5), text(strings.Repeat("long ", 7000)), null, null, null, null},
		{num("6", 6), text("DEL \x7f and ]]> and &amp;"), num("NaN", 0), null, null, null},
	}
	write := func(fast bool) map[string][]byte {
		t.Helper()
		fastRows = fast
		defer func() { fastRows = true }()
		var out bytes.Buffer
		w := New(&out, Options{TmpDir: t.TempDir()})
		m := xlsxTestMeta(false)
		if err := w.Begin(m); err != nil {
			t.Fatal(err)
		}
		if err := w.StartPart(&model.Part{Key: "p", Title: "Part", Columns: cols}); err != nil {
			t.Fatal(err)
		}
		if w.swBuf == nil {
			t.Fatal("the stream's buffer was not found: appendRow is never used")
		}
		for i := 0; i < 300; i++ { // across a spill (every 256 rows)
			if err := w.Row(rows[i%len(rows)]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.EndPart(nil, 300); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		path := t.TempDir() + "/w.xlsx"
		if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		entries := map[string][]byte{}
		for name := range xlsxZipNames(t, path) {
			// Other entries list content types and such in map order,
			// which differs from run to run.
			if strings.HasPrefix(name, "xl/worksheets/") || name == "xl/styles.xml" {
				entries[name] = xlsxZipEntry(t, path, name)
			}
		}
		return entries
	}
	slow, fast := write(false), write(true)
	if len(slow) != len(fast) {
		t.Fatalf("%d entries through SetRow, %d with appendRow", len(slow), len(fast))
	}
	for name, want := range slow {
		if got := fast[name]; !bytes.Equal(got, want) {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Errorf("%s differs at byte %d:\nappendRow: %.200s\nSetRow:    %.200s", name, i, got[max(i-60, 0):], want[max(i-60, 0):])
		}
	}
}

// TestAppendRowTakesPlainRows: a row of plain values is written by
// appendRow, one with a value it leaves to SetRow is not.
func TestAppendRowTakesPlainRows(t *testing.T) {
	cols := []string{"A", "B", "C", "D"}
	cells := []excelize.Cell{{Value: int64(7)}, {Value: "x & y"}, {StyleID: 3, Value: 1.5}, {StyleID: 4, Value: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)}}
	row := []interface{}{&cells[0], &cells[1], &cells[2], &cells[3]}
	got, ok := appendRow(nil, 9, cols, cells, row)
	want := `<row r="9"><c r="A9"><v>7</v></c><c r="B9" t="inlineStr"><is><t>x &amp; y</t></is></c>` +
		`<c r="C9" s="3"><v>1.5</v></c><c r="D9" s="4"><v>45352.5</v></c></row>`
	if !ok || string(got) != want {
		t.Errorf("appendRow = %q, %v; want %q", got, ok, want)
	}
	cells[1].Value = " x"
	if _, ok := appendRow(nil, 9, cols, cells, row); ok {
		t.Error("appendRow took text with a leading space (SetRow adds xml:space)")
	}
}
