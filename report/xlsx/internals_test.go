package xlsx

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestExcelizeLayout checks, in milliseconds, that the excelize internals
// internals.go relies on are still there and still mean what it assumes:
// a StreamWriter's rawData has tmp *os.File and buf bytes.Buffer; rows
// collect in buf; what spill moves to tmp is what Flush completes and the
// saved workbook reads back; excelize's Close removes the temp file.
func TestExcelizeLayout(t *testing.T) {
	dir := t.TempDir()
	f := excelize.NewFile(excelize.Options{TmpDir: dir})
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	tmp, buf, ok := streamBuffer(sw)
	if !ok {
		t.Fatal("excelize.StreamWriter has no rawData{tmp *os.File, buf bytes.Buffer}: update internals.go for this excelize version")
	}
	const rows = 100
	for i := 1; i <= rows; i++ {
		if i == rows/2 {
			if buf.Len() == 0 {
				t.Fatal("rows are not buffered in rawData.buf")
			}
			if err := spill(sw, dir, 0); err != nil {
				t.Fatal(err)
			}
			if *tmp == nil || buf.Len() != 0 {
				t.Fatalf("spill: tmp %v, %d bytes left in buf", *tmp, buf.Len())
			}
		}
		if err := sw.SetRow("A"+strconv.Itoa(i), []interface{}{i, "row " + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := spill(sw, dir, 0); err != nil {
		t.Fatal(err)
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	releaseStreamBuffer(sw)
	if buf.Cap() != 0 {
		t.Errorf("buffer of %d bytes kept after releaseStreamBuffer", buf.Cap())
	}
	path := filepath.Join(t.TempDir(), "layout.xlsx")
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("excelize left temp files: %q", left)
	}
	back, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	got, err := back.GetRows("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != rows || got[0][1] != "row 1" || got[rows-1][0] != strconv.Itoa(rows) {
		t.Fatalf("read back %d rows (first %q)", len(got), got[0])
	}
}
