// Package arabic prepares mixed Arabic and Latin text for a PDF library
// that draws glyphs left to right without shaping: it shapes Arabic letters
// into their contextual presentation forms and orders runs visually.
//
// The pipeline for one line is: shape in logical order (Shape), resolve
// embedding levels with a subset of the Unicode Bidirectional Algorithm
// (character classes from golang.org/x/text/unicode/bidi), reorder the
// characters visually (rule L2), mirror brackets at right-to-left levels and
// split the result into runs by font.
//
// Combining marks (harakat, shadda) stay before their base letter in visual
// order, as plain reversal leaves them: Noto Naskh Arabic and Noto Sans
// Arabic draw their marks with zero advance and the outline to the right of
// the origin, so a mark drawn just before its base lands on the base. There
// is no mark positioning beyond that (stacked marks may overlap).
package arabic

import (
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/bidi"
)

// Run is a piece of one line in visual order, drawn left to right.
type Run struct {
	Text   string // ready to draw: shaped and, for right-to-left runs, reversed
	Arabic bool   // needs the Arabic font (else the Latin font)
}

// scratch holds the buffers of one Visual call.
type scratch struct {
	src, text []rune
	font      []int8 // 1 Arabic font, 0 Latin font, -1 undecided (space)
	order     []int
	buf       []byte
	resolver
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Visual returns line as runs in visual (left-to-right drawing) order for a
// paragraph of direction rtl. The line must not be wrapped further: the
// visual order is only valid for the whole line. Visual returns nil for an
// empty line. Adjacent runs never have the same Arabic flag.
//
// Arabic letters are shaped (see Shape), right-to-left text is reversed,
// numbers and Latin words keep their reading order, and mirrored characters
// such as brackets are swapped at right-to-left levels. Runs with Arabic set
// hold only Arabic-script characters and spaces; all others hold none.
// Invisible formatting characters (bidi controls, ZWJ, ZWNJ, LRM, RLM, ALM,
// soft hyphen) are dropped. Explicit embeddings and isolates are ignored.
//
// Numbers keep their written order even in Arabic context ("2024-03",
// "-1,234.500", "12%"; two deviations from UAX #9, see bidi.go), but follow
// UAX #9 otherwise: in a left-to-right paragraph a number after Arabic text
// belongs to it, so "Loan of أحمد: 1,234.500" shows the amount left of the
// name; put U+200E (LRM) after an Arabic value to keep what follows on the
// Latin side. Space-separated digit groups are separate numbers.
//
// Visual is safe for concurrent use.
func Visual(line string, rtl bool) []Run {
	if line == "" {
		return nil
	}
	if !rtl && isPlainASCII(line) {
		return []Run{{Text: line}}
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)

	s.src = s.src[:0]
	for _, r := range line {
		s.src = append(s.src, r)
	}
	shaped := shape(s.text[:0], s.src)
	// X9: drop boundary neutrals and explicit directional controls.
	s.text = shaped[:0]
	s.orig = s.orig[:0]
	for _, r := range shaped {
		p, _ := bidi.LookupRune(r)
		c := p.Class()
		if isRemoved(c) {
			continue
		}
		s.text = append(s.text, r)
		s.orig = append(s.orig, c)
	}
	if len(s.text) == 0 {
		return nil
	}
	var para uint8
	if rtl {
		para = 1
	}
	s.resolve(s.text, para)
	s.assignFonts()
	s.order = reorder(s.order, s.levels)

	// Write all runs into one buffer; runs are substrings of one string.
	buf := s.buf[:0]
	type span struct {
		end    int // byte offset in buf
		arabic bool
	}
	var spans [8]span
	list := spans[:0]
	for _, i := range s.order {
		r := s.text[i]
		if isInvisible(r) {
			continue
		}
		if s.levels[i]%2 == 1 && s.orig[i] == bidi.ON {
			r = mirror(r)
		}
		arabic := s.font[i] == 1
		if len(list) == 0 || list[len(list)-1].arabic != arabic {
			list = append(list, span{arabic: arabic})
		}
		buf = utf8.AppendRune(buf, r)
		list[len(list)-1].end = len(buf)
	}
	s.buf = buf
	if len(list) == 0 {
		return nil
	}
	all := string(buf)
	runs := make([]Run, len(list))
	start := 0
	for k, sp := range list {
		runs[k] = Run{Text: all[start:sp.end], Arabic: sp.arabic}
		start = sp.end
	}
	return runs
}

// assignFonts decides the font of every character: Arabic script needs the
// Arabic font, everything else the Latin font, and spaces join the
// neighbouring run of the same level (the preceding one in logical order
// first), else the Latin font.
func (s *scratch) assignFonts() {
	n := len(s.text)
	font := s.font[:0]
	for _, r := range s.text {
		switch {
		case isFontSpace(r):
			font = append(font, -1)
		case IsArabicScript(r):
			font = append(font, 1)
		default:
			font = append(font, 0)
		}
	}
	s.font = font
	lv := s.levels
	for i := 1; i < n; i++ {
		if font[i] == -1 && font[i-1] != -1 && lv[i] == lv[i-1] {
			font[i] = font[i-1]
		}
	}
	for i := n - 2; i >= 0; i-- {
		if font[i] == -1 && font[i+1] != -1 && lv[i] == lv[i+1] {
			font[i] = font[i+1]
		}
	}
	for i := range font {
		if font[i] == -1 {
			font[i] = 0
		}
	}
}

// IsArabicScript reports whether r is drawn with the Arabic font: the Arabic
// blocks, including Arabic-Indic digits, Arabic punctuation (، ؛ ؟) and the
// presentation forms.
func IsArabicScript(r rune) bool {
	switch {
	case r >= 0x0600 && r <= 0x06FF, // Arabic
		r >= 0x0750 && r <= 0x077F, // Arabic Supplement
		r >= 0x0870 && r <= 0x08FF, // Arabic Extended-B, -A
		r >= 0xFB50 && r <= 0xFDFF, // Presentation Forms-A
		r >= 0xFE70 && r <= 0xFEFE: // Presentation Forms-B (not U+FEFF)
		return true
	}
	return false
}

// isFontSpace reports whether r is a space that both fonts have.
func isFontSpace(r rune) bool { return r == ' ' || r == 0xA0 }

// isInvisible reports whether r is a formatting character that is dropped
// from the output after taking part in bidi resolution.
func isInvisible(r rune) bool {
	switch r {
	case 0x200E, 0x200F, 0x061C, zwj, zwnj: // LRM, RLM, ALM, ZWJ, ZWNJ
		return true
	}
	return false
}

// isPlainASCII reports whether s has only printable ASCII characters, which
// need no work in a left-to-right paragraph.
func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			return false
		}
	}
	return true
}
