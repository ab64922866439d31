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

// BenchmarkAppendString encodes text shaped like a loan database's: short
// names, e-mail addresses, dates and memos, a few with quotes to escape.
func BenchmarkAppendString(b *testing.B) {
	vals := [][]byte{[]byte("Ahmed Al-Farsi"), []byte("ahmed.alfarsi@example.com"), []byte("2024-03-15 10:22:01"),
		[]byte("monthly installment, paid at the branch"), []byte("O'Brien"), []byte("عبدالله بن محمد"), []byte("")}
	n := 0
	for _, v := range vals {
		n += len(v)
	}
	b.SetBytes(int64(n))
	buf := make([]byte, 0, 4096)
	for b.Loop() {
		buf = buf[:0]
		for _, v := range vals {
			buf = AppendString(buf, v)
		}
	}
}

// TestAppendStringEveryByte: each of the 256 bytes, between two letters,
// is written as it is or escaped exactly as the mariadb client reads it.
func TestAppendStringEveryByte(t *testing.T) {
	escaped := map[byte]string{0: `\0`, '\n': `\n`, '\r': `\r`, 0x1a: `\Z`, '\'': `\'`, '\\': `\\`}
	for b := 0; b < 256; b++ {
		want := "'a" + string([]byte{byte(b)}) + "z'"
		if e, ok := escaped[byte(b)]; ok {
			want = "'a" + e + "z'"
		}
		if got := string(AppendString(nil, []byte{'a', byte(b), 'z'})); got != want {
			t.Errorf("byte 0x%02x: AppendString = %q, want %q", b, got, want)
		}
	}
}
