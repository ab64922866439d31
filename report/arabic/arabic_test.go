package arabic

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/bidi"
	"golang.org/x/text/unicode/runenames"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// cps parses space-separated hexadecimal code points.
func cps(t *testing.T, s string) string {
	t.Helper()
	var b strings.Builder
	for _, f := range strings.Fields(s) {
		var r rune
		if _, err := fmt.Sscanf(f, "%X", &r); err != nil {
			t.Fatalf("bad code point %q: %v", f, err)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// hex formats s as space-separated hexadecimal code points.
func hex(s string) string {
	var b strings.Builder
	for i, r := range []rune(s) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%04X", r)
	}
	return b.String()
}

func TestVisualWords(t *testing.T) {
	// Expected code points in visual (drawing) order; every case is one
	// Arabic run in a right-to-left paragraph.
	tests := []struct {
		name, in, want string
	}{
		{"abdullah", "عبدالله", "FEEA FEE0 FEDF FE8D FEAA FE92 FECB"},
		{"muhammad", "محمد", "FEAA FEE4 FEA4 FEE3"},
		{"fatima", "فاطمة", "FE94 FEE4 FEC3 FE8E FED3"},
		{"la", "لا", "FEFB"},
		{"illa", "إلا", "FEFB FE87"},
		{"alaa", "آلاء", "FE80 FEFB FE81"},
		{"salam lam-alef inside", "سلام", "FEE1 FEFC FEB3"},
		{"muassasa", "مؤسسة", "FE94 FEB4 FEB3 FE86 FEE3"},
		{"lam-alef hamza above", "لأ", "FEF7"},
		{"lam-alef hamza below", "لإ", "FEF9"},
		{"lam-alef madda", "لآ", "FEF5"},
		{"final lam-alef hamza", "ملأ", "FEF8 FEE3"},
		{"final lam-alef madda", "كلآ", "FEF6 FEDB"},
		{"final lam-alef hamza below", "علإ", "FEFA FECB"},
		{"harakat before base visually", "مُحَمَّد", "FEAA 0651 064E FEE4 064E FEA4 064F FEE3"},
		{"harakat on lam-alef", "سَلَامٌ", "064C FEE1 064E FEFC 064E FEB3"},
		{"superscript alef transparent", "هٰذا", "FE8D FEAC 0670 FEEB"},
		{"tatweel", "بـب", "FE90 0640 FE91"},
		{"tatweel after right-joining", "دـ", "0640 FEA9"},
		{"persian", "پیک", "FB8F FBFF FB58"},
		{"persian gaf tcheh jeh", "گچ ژ", "FB8A 0020 FB7B FB94"},
		{"zwnj breaks join", "می\u200cخواهم", "FEE2 FEEB FE8D FEEE FEA7 FBFD FEE3"},
		{"zwj forces join", "ب\u200d", "FE91"},
		{"hamza non-joining", "جزء", "FE80 FEB0 FE9F"},
		{"alef maksura", "على", "FEF0 FEE0 FECB"},
		{"arabic-indic digits", "رقم ١٢٣", "0661 0662 0663 0020 FEE2 FED7 FEAD"},
		{"arabic punctuation", "هل؟ نعم، لا؛", "061B FEFB 0020 060C FEE2 FECC FEE7 0020 061F FEDE FEEB"},
		{"presentation forms kept", "\ufefb", "FEFB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Visual(tt.in, true)
			want := []Run{{Text: cps(t, tt.want), Arabic: true}}
			if !slices.Equal(got, want) {
				t.Errorf("Visual(%q) = %s, want %s", tt.in, fmtRuns(got), fmtRuns(want))
			}
		})
	}
}

func TestShape(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"logical order", "عبدالله", "FECB FE92 FEAA FE8D FEDF FEE0 FEEA"},
		{"latin untouched", "a-1", "0061 002D 0031"},
		{"marks kept after base", "بَب", "FE91 064E FE90"},
		{"lam mark before alef moves after ligature", "لَا", "FEFB 064E"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Shape(tt.in); got != cps(t, tt.want) {
				t.Errorf("Shape(%q) = %s, want %s", tt.in, hex(got), tt.want)
			}
		})
	}
}

func TestVisualMixed(t *testing.T) {
	ar := func(s string) Run { return Run{Text: s, Arabic: true} }
	la := func(s string) Run { return Run{Text: s} }
	tests := []struct {
		name string
		in   string
		rtl  bool
		want []Run
	}{
		{"empty", "", true, nil},
		{"empty ltr", "", false, nil},
		{"only spaces rtl", "   ", true, []Run{la("   ")}},
		{"only spaces ltr", "  ", false, []Run{la("  ")}},
		{"latin ltr fast path", "Total: 1,234.500 JOD", false, []Run{la("Total: 1,234.500 JOD")}},
		{"loan date number rtl", "القرض 2024-03 رقم 15", true, []Run{
			la("15"), ar(" ﻢﻗﺭ "), la("2024-03"), ar(" ﺽﺮﻘﻟﺍ")}},
		// UAX #9: in a left-to-right paragraph a number after Arabic text
		// belongs to it, so "أحمد: 1,234.500" reads as one RTL unit.
		{"loan of name ltr", "Loan of أحمد: 1,234.500 JOD", false, []Run{
			la("Loan of 1,234.500 :"), ar("ﺪﻤﺣﺃ"), la(" JOD")}},
		{"LRM keeps number on the latin side", "Loan of أحمد\u200e: 1,234.500 JOD", false, []Run{
			la("Loan of "), ar("ﺪﻤﺣﺃ"), la(": 1,234.500 JOD")}},
		{"instalment rtl", "قسط رقم 12 — payment 3f9a", true, []Run{
			la("payment 3f9a — 12"), ar(" ﻢﻗﺭ ﻂﺴﻗ")}},
		{"percent rtl", "مبلغ 12% من (القرض)", true, []Run{
			la("("), ar("ﺽﺮﻘﻟﺍ"), la(")"), ar(" ﻦﻣ "), la("12%"), ar(" ﻎﻠﺒﻣ")}},
		{"brackets rtl", "(أحمد)", true, []Run{la("("), ar("ﺪﻤﺣﺃ"), la(")")}},
		{"brackets ltr", "(أحمد)", false, []Run{la("("), ar("ﺪﻤﺣﺃ"), la(")")}},
		{"latin in brackets rtl", "أحمد (Ahmad)", true, []Run{la("(Ahmad)"), ar(" ﺪﻤﺣﺃ")}},
		{"arabic in brackets ltr", "Name (أحمد) ok", false, []Run{la("Name ("), ar("ﺪﻤﺣﺃ"), la(") ok")}},
		{"latin only rtl", "Hello!", true, []Run{la("!Hello")}},
		{"trailing spaces rtl", "abc  ", true, []Run{la("  abc")}},
		{"number after arabic ltr", "أحمد 123 abc", false, []Run{la("123"), ar(" ﺪﻤﺣﺃ"), la(" abc")}},
		{"decimal rtl", "المبلغ 1,234.500 دينار", true, []Run{
			ar("ﺭﺎﻨﻳﺩ "), la("1,234.500"), ar(" ﻎﻠﺒﻤﻟﺍ")}},
		{"date slash rtl", "تاريخ 2024/03/15", true, []Run{la("2024/03/15"), ar(" ﺦﻳﺭﺎﺗ")}},
		{"signed number rtl", "الرصيد -1,234.500", true, []Run{la("-1,234.500"), ar(" ﺪﻴﺻﺮﻟﺍ")}},
		// Space-separated number groups are separate numbers (UAX #9).
		{"phone plus rtl", "هاتف +962 79", true, []Run{la("79 +962"), ar(" ﻒﺗﺎﻫ")}},
		{"controls dropped", "\u202bأحمد\u202c\u200f", false, []Run{ar("ﺪﻤﺣﺃ")}},
		{"only invisible", "\u200e\u200f", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Visual(tt.in, tt.rtl)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Visual(%q, %v) =\n%s\nwant\n%s", tt.in, tt.rtl, fmtRuns(got), fmtRuns(tt.want))
			}
		})
	}
}

func fmtRuns(runs []Run) string {
	var b strings.Builder
	for _, r := range runs {
		font := "latin "
		if r.Arabic {
			font = "arabic"
		}
		fmt.Fprintf(&b, "  %s %q [%s]\n", font, r.Text, hex(r.Text))
	}
	return b.String()
}

// TestVisualGolden pins the output for a set of report-like lines; run with
// -update to rewrite testdata/visual.golden after a deliberate change.
func TestVisualGolden(t *testing.T) {
	lines := []string{
		"عبدالله بن محمد",
		"القرض 2024-03 رقم 15",
		"Loan of أحمد: 1,234.500 JOD",
		"قسط رقم 12 — payment 3f9a",
		"(أحمد) [فاطمة] {سلام}",
		"الرصيد: -1,234.500 د.أ",
		"نسبة الفائدة 4.5% سنوياً",
		"Branch فرع عمّان، الأردن",
		"رقم الهوية: 9871234567؛ الهاتف ٠٧٩١٢٣٤٥٦٧",
		"ID 42 — مُحَمَّد «الأمين»",
	}
	var b bytes.Buffer
	for _, line := range lines {
		for _, rtl := range []bool{true, false} {
			fmt.Fprintf(&b, "%q rtl=%v\n%s", line, rtl, fmtRuns(Visual(line, rtl)))
		}
	}
	path := filepath.Join("testdata", "visual.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("output differs from %s (run with -update after checking):\n%s", path, b.String())
	}
}

// TestFormTableNames checks every presentation form against its Unicode name.
func TestFormTableNames(t *testing.T) {
	suffix := [4]string{" ISOLATED FORM", " FINAL FORM", " INITIAL FORM", " MEDIAL FORM"}
	for _, e := range formList {
		base := runenames.Name(e.base)
		if !strings.HasPrefix(base, "ARABIC LETTER ") {
			t.Errorf("U+%04X is %q, not an Arabic letter", e.base, base)
			continue
		}
		for k := range e.n {
			if got, want := runenames.Name(e.iso+rune(k)), base+suffix[k]; got != want {
				t.Errorf("U+%04X is %q, want %q", e.iso+rune(k), got, want)
			}
		}
		if e.n < 4 {
			if got := runenames.Name(e.iso + rune(e.n)); got == base+suffix[e.n] {
				t.Errorf("U+%04X %q: table stops too early", e.iso+rune(e.n), got)
			}
		}
	}
	for _, alef := range []rune{0x0622, 0x0623, 0x0625, 0x0627} {
		iso, fin, _ := lamAlef(alef)
		want := "ARABIC LIGATURE LAM WITH " + strings.TrimPrefix(runenames.Name(alef), "ARABIC LETTER ")
		if got := runenames.Name(iso); got != want+" ISOLATED FORM" {
			t.Errorf("U+%04X is %q, want %q", iso, got, want+" ISOLATED FORM")
		}
		if got := runenames.Name(fin); got != want+" FINAL FORM" {
			t.Errorf("U+%04X is %q, want %q", fin, got, want+" FINAL FORM")
		}
	}
}

// baseLetters maps presentation forms back to their letters.
var baseLetters = func() map[rune][]rune {
	m := make(map[rune][]rune)
	for i, f := range formTable {
		for _, r := range []rune{f.iso, f.fin, f.ini, f.med} {
			if r != 0 {
				m[r] = []rune{rune(0x0600 + i)}
			}
		}
	}
	for _, alef := range []rune{0x0622, 0x0623, 0x0625, 0x0627} {
		iso, fin, _ := lamAlef(alef)
		m[iso] = []rune{lam, alef}
		m[fin] = []rune{lam, alef}
	}
	return m
}()

// letterCounts counts the visible characters of s modulo shaping and
// mirroring: presentation forms count as their letters, mirrored pairs as
// one character, formatting characters not at all.
func letterCounts(s string) map[rune]int {
	counts := make(map[rune]int)
	for _, r := range s {
		p, _ := bidi.LookupRune(r)
		if isRemoved(p.Class()) || isInvisible(r) {
			continue
		}
		if base, ok := baseLetters[r]; ok {
			for _, b := range base {
				counts[b]++
			}
			continue
		}
		if m := mirror(r); m < r {
			r = m
		}
		counts[r]++
	}
	return counts
}

// checkVisual checks the invariants of Visual for any input.
func checkVisual(t *testing.T, line string, rtl bool) {
	t.Helper()
	runs := Visual(line, rtl)
	var all strings.Builder
	for i, run := range runs {
		if run.Text == "" {
			t.Fatalf("Visual(%q, %v): run %d is empty", line, rtl, i)
		}
		if i > 0 && runs[i-1].Arabic == run.Arabic {
			t.Fatalf("Visual(%q, %v): runs %d and %d have the same font", line, rtl, i-1, i)
		}
		if utf8.ValidString(line) && !utf8.ValidString(run.Text) {
			t.Fatalf("Visual(%q, %v): run %d is not valid UTF-8", line, rtl, i)
		}
		for _, r := range run.Text {
			if isFontSpace(r) {
				continue
			}
			if IsArabicScript(r) != run.Arabic {
				t.Fatalf("Visual(%q, %v): %U in run %d with Arabic=%v", line, rtl, r, i, run.Arabic)
			}
		}
		all.WriteString(run.Text)
	}
	if got, want := letterCounts(all.String()), letterCounts(line); !mapsEqual(got, want) {
		t.Fatalf("Visual(%q, %v) = %q: letters %v, want %v", line, rtl, all.String(), got, want)
	}
}

func mapsEqual(a, b map[rune]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestVisualProperties(t *testing.T) {
	lines := []string{
		"", " ", "عبدالله", "Loan of أحمد: 1,234.500 JOD", "(((أحمد]]]", ")(", "لَا",
		"ل\u064b\u064bا", "\u064bأ", "a\u0301 ب\u0301", "\xff\xfeب", "\u2067أ\u2069 b", "\t\nب",
		strings.Repeat("(", 70) + "ب" + strings.Repeat(")", 70),
	}
	for _, line := range lines {
		checkVisual(t, line, true)
		checkVisual(t, line, false)
	}
}

func FuzzVisual(f *testing.F) {
	for _, s := range []string{
		"عبدالله", "القرض 2024-03 رقم 15", "Loan of أحمد: 1,234.500 JOD",
		"قسط رقم 12 — payment 3f9a", "(أحمد)", "مُحَمَّد", "سَلَامٌ", "پیک گچ ژ",
		"رقم ١٢٣، ؟", "\u200fأ\u200e", "a (b [ج) د]", "",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(checkVisual)
}

func BenchmarkVisual(b *testing.B) {
	cases := []struct {
		name, line string
		rtl        bool
	}{
		{"mixed-rtl", "قسط رقم 12 — payment 3f9a للقرض 2024-03 (عبدالله)", true},
		{"arabic-rtl", "عبدالله بن محمد الأمين", true},
		{"latin-ltr", "Loan 2024-03 payment 1,234.500 JOD", false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Visual(c.line, c.rtl)
			}
		})
	}
}
