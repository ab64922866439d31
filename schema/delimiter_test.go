package schema

import (
	"strings"
	"testing"
)

func TestChooseDelimiter(t *testing.T) {
	all := "BEGIN SELECT ';;', '$$', '//', '@@@', '$$$$$'; END"
	for _, tt := range []struct{ name, text, want string }{
		{"plain", "BEGIN SELECT 1; END", ";;"},
		{"has ;;", "BEGIN SELECT ';;'; END", "$$"},
		{"ends in ;", "BEGIN SELECT 1; END;", "$$"},
		{"ends in $", "BEGIN SELECT ';;'; END $", "//"},
		{"every candidate", all, "$$1"},
		{"every candidate and $$1", all + " -- $$1", "$$2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := chooseDelimiter(tt.text)
			if d != tt.want {
				t.Errorf("chooseDelimiter = %q, want %q", d, tt.want)
			}
			if strings.Contains(tt.text+d[:len(d)-1], d) || len(d) > 15 || strings.ContainsAny(d, "\\'\"`#-") {
				t.Errorf("delimiter %q is not safe for %q", d, tt.text)
			}
		})
	}
}

func FuzzChooseDelimiter(f *testing.F) {
	f.Add("BEGIN SELECT ';;', '$$', '//', '@@@', '$$$$$'; END$")
	f.Fuzz(func(t *testing.T, text string) {
		d := chooseDelimiter(text)
		if i := strings.Index(text+d, d); i != len(text) {
			t.Fatalf("delimiter %q found at %d in %q, want at the end", d, i, text+d)
		}
		if len(d) > 15 {
			t.Fatalf("delimiter %q longer than the client's 15 bytes", d)
		}
	})
}
