package xlsx

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// sanitizeSheetName makes s a legal sheet name: the characters []:*?/\
// and control characters become '_', leading and trailing apostrophes
// and spaces are dropped, and the result is cut to 31 UTF-16 units. An
// empty result becomes def.
func sanitizeSheetName(s, def string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case strings.ContainsRune(`[]:*?/\`, r), unicode.IsControl(r):
			return '_'
		case r == utf8.RuneError:
			return -1
		}
		return r
	}, s)
	s = strings.Trim(s, "' ")
	s = truncateUTF16(s, maxSheetName)
	s = strings.Trim(s, "' ")
	if s == "" {
		return def
	}
	if strings.EqualFold(s, "History") { // reserved by Excel
		s += "_"
	}
	return s
}

// truncateUTF16 cuts s to at most n UTF-16 code units on a rune boundary.
func truncateUTF16(s string, n int) string {
	units := 0
	for i, r := range s {
		units += utf16.RuneLen(r)
		if units > n {
			return s[:i]
		}
	}
	return s
}

// uniqueSheetName returns base, or for n > 1 "base (n)", cut to fit and
// not yet used (Excel compares sheet names case-insensitively), and marks
// it used.
func (w *Writer) uniqueSheetName(base string, n int) string {
	for ; ; n++ {
		name := base
		if n > 1 {
			suffix := " (" + strconv.Itoa(n) + ")"
			name = strings.TrimRight(truncateUTF16(base, maxSheetName-len(suffix)), "' ") + suffix
		}
		key := strings.ToLower(name)
		if !w.used[key] {
			w.used[key] = true
			return name
		}
	}
}
