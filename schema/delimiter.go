package schema

import (
	"strconv"
	"strings"
)

// delimiters are tried in order for a stored program body.
var delimiters = []string{";;", "$$", "//", "@@@", "$$$$$"}

// chooseDelimiter returns a DELIMITER for a CREATE statement text that the
// mariadb client cannot find before the end of text: the first of
// delimiters, then $$1, $$2, ... that text does not contain anywhere, and
// that does not occur across the boundary either (text ending in "$" with
// "$$": the client would end the statement one byte early). Every
// candidate is at most 15 bytes (the client's limit), has no backslash or
// quote, and starts with no byte that opens a comment (#, -, /*). The
// body is finite, so some $$N is absent; N stays below the body's length.
func chooseDelimiter(text string) string {
	for _, d := range delimiters {
		if fits(text, d) {
			return d
		}
	}
	for n := 1; ; n++ {
		if d := "$$" + strconv.Itoa(n); fits(text, d) {
			return d
		}
	}
}

// fits reports whether the client, scanning text then d, first finds d at
// the end: d occurs neither in text nor straddling its end.
func fits(text, d string) bool {
	return !strings.Contains(text+d[:len(d)-1], d)
}
