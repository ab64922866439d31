package sqlident

import (
	"strings"
	"testing"
)

// unquote reads one quoted identifier the way the server does and returns
// it and the rest of the text.
func unquote(s string) (name, rest string, ok bool) {
	if !strings.HasPrefix(s, "`") {
		return "", "", false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] == '`' {
			if i+1 < len(s) && s[i+1] == '`' {
				b.WriteByte('`')
				i++
				continue
			}
			return b.String(), s[i+1:], true
		}
		b.WriteByte(s[i])
	}
	return "", "", false
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"t": "`t`", "my table": "`my table`", "a`b": "`a``b`", "": "``", "قروض": "`قروض`"} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzQuote: whatever the name, the quoted form reads back as exactly that
// name and ends where the quoting ends (nothing leaks out as SQL).
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"t", "a`b", "``", "`; DROP TABLE x; --", "x` OR `1", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		q := Quote(name) + " AND 1"
		got, rest, ok := unquote(q)
		if !ok || got != name || rest != " AND 1" {
			t.Fatalf("Quote(%q) reads back as %q, rest %q", name, got, rest)
		}
	})
}
