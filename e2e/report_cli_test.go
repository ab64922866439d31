package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"lms-backup/cli"
	"lms-backup/internal/testdb"
)

// reverse returns s with its runes in reverse order.
func reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// TestReportCommand builds the report with the real binary in both
// languages and reads the files back: the workbook's sheets and typed
// cells, the PDF's text (pdftotext) with its figures, the shaped Arabic
// glyphs of a known name, and a rendered page (pdftoppm).
func TestReportCommand(t *testing.T) {
	srv := testdb.Get(t)
	db := fixtureDB(t, srv, 1)
	for _, lang := range []string{"en", "ar"} {
		t.Run(lang, func(t *testing.T) {
			out := t.TempDir()
			mustRun(t, append([]string{"--quiet", "report", "-D", db, "--month", "2024-03", "--lang", lang, "--out", out, "--pdf-max-rows", "300"}, connArgs(srv)...)...)
			for _, f := range []string{"loans-2024-03.xlsx", "loans-2024-03.pdf"} {
				st, err := os.Stat(filepath.Join(out, f))
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o600 {
					t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
				}
			}
			assertNoTemp(t, out)

			x, err := excelize.OpenFile(filepath.Join(out, "loans-2024-03.xlsx"))
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			sheets := x.GetSheetList()
			if len(sheets) < 6 {
				t.Fatalf("sheets %v: want the summary and five parts", sheets)
			}
			// The payments sheet: numbers are numbers, the totals row sums them.
			var payments string
			for _, s := range sheets {
				if s == "Payments" || s == "الدفعات" {
					payments = s
				}
			}
			if payments == "" {
				t.Fatalf("no payments sheet in %v", sheets)
			}
			rows, err := x.GetRows(payments)
			if err != nil || len(rows) < 3 {
				t.Fatalf("payments rows: %d, %v", len(rows), err)
			}
			typ, _ := x.GetCellType(payments, "D2")
			if typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
				t.Errorf("payment amount cell type %v, want a number", typ)
			}
			if rtl, _ := x.GetSheetView(payments, 0); lang == "ar" && (rtl.RightToLeft == nil || !*rtl.RightToLeft) {
				t.Error("the Arabic workbook's sheets are not right to left")
			}

			pdf := filepath.Join(out, "loans-2024-03.pdf")
			text, err := exec.Command("pdftotext", "-layout", pdf, "-").Output()
			if err != nil {
				t.Fatalf("pdftotext: %v", err)
			}
			if lang == "en" {
				// A figure computed here, formatted as the PDF prints money.
				var principal string
				mustScan(t, srv.Open(t, db).QueryRow("SELECT SUM(principal) FROM loans WHERE status <> 'pending' AND disbursed_at >= '2024-03-01' AND disbursed_at < '2024-04-01'"), &principal)
				for _, want := range []string{"Monthly loan report", "2024-03", "Page 1 of", "Collections", "more rows are in the workbook only", thousands(principal)} {
					if !strings.Contains(string(text), want) {
						t.Errorf("PDF text lacks %q", want)
					}
				}
			} else {
				// "محمد" shaped: meem initial, hah medial, meem medial, dal
				// final; drawn left to right in visual order. pdftotext may
				// print the line in either direction, so both are accepted.
				shaped := "\uFEAA\uFEE4\uFEA4\uFEE3"
				if !strings.Contains(string(text), shaped) && !strings.Contains(string(text), reverse(shaped)) {
					t.Errorf("the PDF has no shaped محمد (%U)", []rune(shaped))
				}
				if strings.Contains(string(text), "محمد") {
					t.Error("the PDF has محمد in unshaped letters")
				}
			}
			png := filepath.Join(out, "page")
			if err := exec.Command("pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", pdf, png).Run(); err != nil {
				t.Fatalf("pdftoppm: %v", err)
			}
			matches, _ := filepath.Glob(png + "*.png")
			if len(matches) != 1 {
				t.Fatalf("pdftoppm wrote %v", matches)
			}
			if st, _ := os.Stat(matches[0]); st.Size() < 5000 {
				t.Errorf("page 1 renders to only %d bytes", st.Size())
			}
		})
	}
}

// TestReportEmptyMonth: a month without data still gets its files, and a
// warning says why they are empty.
func TestReportEmptyMonth(t *testing.T) {
	srv := testdb.Get(t)
	db := fixtureDB(t, srv, 1)
	out := t.TempDir()
	r := run(t, nil, nil, append([]string{"report", "-D", db, "--month", "2019-05", "--out", out}, connArgs(srv)...)...)
	if r.code != 0 || !strings.Contains(r.stderr, "the report is empty") {
		t.Fatalf("exit %d, want 0 with a warning about the empty month\n%s", r.code, r.stderr)
	}
	for _, f := range []string{"loans-2019-05.xlsx", "loans-2019-05.pdf"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestReportBadInput: each bad input gets one line and its exit code, and
// no report file appears.
func TestReportBadInput(t *testing.T) {
	srv := testdb.Get(t)
	db := srv.CreateDB(t, "rbad")
	out := t.TempDir()
	badTpl := filepath.Join(out, "broken.json")
	os.WriteFile(badTpl, []byte(`{"name": "x",`), 0o600)
	base := func(extra ...string) []string {
		return append(append([]string{"--quiet", "report", "-D", db, "--out", out}, extra...), connArgs(srv)...)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad month", base("--month", "2024-13"), cli.ExitUsage, "YYYY-MM"},
		{"no month", base(), cli.ExitUsage, "--month"},
		{"bad format", base("--month", "2024-03", "--format", "docx"), cli.ExitUsage, "docx"},
		{"bad language", base("--month", "2024-03", "--lang", "fr"), cli.ExitUsage, "fr"},
		{"broken template", base("--month", "2024-03", "--template", badTpl), cli.ExitUsage, "broken.json"},
		{"missing out folder", append([]string{"--quiet", "report", "-D", db, "--month", "2024-03", "--out", filepath.Join(out, "nope")}, connArgs(srv)...), cli.ExitOutput, "nope"},
		{"schema without the tables", base("--month", "2024-03"), cli.ExitUsage, "doesn't exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, want %d with %q\n%s", r.code, tt.code, tt.want, r.stderr)
			}
			if n := len(strings.Split(strings.TrimSpace(r.stderr), "\n")); n != 1 {
				t.Errorf("stderr has %d lines, want one:\n%s", n, r.stderr)
			}
			if m, _ := filepath.Glob(filepath.Join(out, "loans-*")); len(m) > 0 {
				t.Errorf("report files left behind: %v", m)
			}
			assertNoTemp(t, out)
		})
	}
}

// thousands formats a decimal text with comma thousands separators.
func thousands(dec string) string {
	whole, frac, _ := strings.Cut(dec, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}
