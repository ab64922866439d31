package format

import (
	"math"
	"strings"
	"testing"

	"lms-backup/report/model"
)

func TestAppendDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		dec  int
		want string
		ok   bool
	}{
		{"1234567.125", 3, "1,234,567.125", true},
		{"1234567.1", 3, "1,234,567.100", true},
		{"999.9995", 3, "1,000.000", true},
		{"-0.0001", 3, "0.000", true},
		{"-1234", 0, "-1,234", true},
		{"+12.5", 0, "13", true},
		{"000123", 0, "123", true},
		{".5", 2, "0.50", true},
		{"1e5", 0, "", false},
		{"", 0, "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := AppendDecimal(nil, tc.in, tc.dec)
			if ok != tc.ok || string(got) != tc.want {
				t.Errorf("AppendDecimal(%q, %d) = %q, %v; want %q, %v", tc.in, tc.dec, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestAppendValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind model.Kind
		dec  int
		v    model.Value
		want string
	}{
		{"null", model.KindMoney, 3, model.Value{Null: true}, ""},
		{"money text", model.KindMoney, 3, model.Value{Text: "1234567.1", Num: 1234567.1}, "1,234,567.100"},
		{"money float only", model.KindMoney, 2, model.Value{Num: 0.125}, "0.13"},
		{"money not a number", model.KindMoney, 3, model.Value{Text: "n/a"}, "n/a"},
		{"integer", model.KindInteger, 0, model.Value{Text: "-1234567", Num: -1234567}, "-1,234,567"},
		{"integer float only", model.KindInteger, 0, model.Value{Num: 1234.6}, "1,235"},
		{"percent", model.KindPercent, 1, model.Value{Num: 0.0425}, "4.3%"},
		{"percent NaN", model.KindPercent, 1, model.Value{Num: math.NaN()}, "NaN%"},
		{"text", model.KindText, 0, model.Value{Text: "1234.5"}, "1234.5"},
		{"date", model.KindDate, 0, model.Value{Text: "2024-03-01"}, "2024-03-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(AppendValue([]byte("x"), tc.kind, tc.dec, tc.v)); got != "x"+tc.want {
				t.Errorf("AppendValue = %q, want %q", got, "x"+tc.want)
			}
		})
	}
}

// FuzzAppendDecimal: any text either is refused with b unchanged or
// gives digits, commas, at most one '-' and one '.', with exactly
// decimals digits after the point.
func FuzzAppendDecimal(f *testing.F) {
	for _, s := range []string{"1234567.125", "-0.0001", "999.9995", ".5", "+12", "1e5", ""} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, dec int) {
		dec = int(uint(dec) % 8)
		out, ok := AppendDecimal([]byte("x"), s, dec)
		if !ok {
			if string(out) != "x" {
				t.Fatalf("refused %q but appended %q", s, out)
			}
			return
		}
		got := string(out[1:])
		if got == "" || got[0] == '-' && len(got) == 1 {
			t.Fatalf("%q -> %q", s, got)
		}
		frac := ""
		if i := strings.IndexByte(got, '.'); i >= 0 {
			frac = got[i+1:]
		}
		if len(frac) != dec {
			t.Fatalf("%q with %d decimals -> %q", s, dec, got)
		}
	})
}
