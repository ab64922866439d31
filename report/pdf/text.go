package pdf

import (
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"lms-backup/report/arabic"
	"lms-backup/report/font"
	"lms-backup/templates"
)

// Text: fonts, glyph lookup, layout of bidi runs and truncation.

// text draws s on one line inside the box [x, x+w] of the row [top,
// top+h], aligned visually, truncated with "…" when too wide. The string
// goes through arabic.Visual; each run is drawn in its font, falling back
// per character to the other font.
func (p *Writer) text(x, top, w, h float64, s string, align int, bold bool, size float64) {
	if s == "" || p.err != nil || w <= 0 {
		return
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		s = strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, s)
	}
	total := p.layout(s, bold) * size
	if total > w {
		total = p.truncate(s, w/size, bold) * size
	}
	cx := x
	switch align {
	case alignRight:
		cx = x + w - total
	case alignCenter:
		cx = x + (w-total)/2
	}
	baseline := top + h/2 + 0.35*size
	for _, sg := range p.segs {
		p.setFont(sg.font, size)
		p.pdf.SetXY(cx, baseline)
		if err := p.pdf.Text(sg.text); err != nil {
			p.fail(fmt.Errorf("pdf: draw text: %w", err))
			return
		}
		cx += sg.w * size
	}
}

// layout splits s into segments of one font in visual order (into p.segs)
// and returns its width at font size 1.
func (p *Writer) layout(s string, bold bool) float64 {
	p.segs = p.segs[:0]
	b := 0
	if bold {
		b = 1
	}
	total := 0.0
	for _, run := range arabic.Visual(s, p.rtl) {
		pref, other := fontSans+b, fontNaskh+b
		if run.Arabic {
			pref, other = other, pref
		}
		t := run.Text
		start, cur, segW := 0, -1, 0.0
		flush := func(end int) {
			if cur >= 0 && end > start {
				p.segs = append(p.segs, textSeg{font: cur, text: t[start:end], w: segW})
				total += segW
			}
			start, cur, segW = end, -1, 0
		}
		for i, r := range t {
			if unicode.Is(unicode.Cf, r) { // invisible format characters
				flush(i)
				start = i + utf8.RuneLen(r)
				continue
			}
			f := pref
			gi := p.glyph(r, pref)
			if !gi.ok {
				if g2 := p.glyph(r, other); g2.ok {
					f, gi = other, g2
				} else {
					p.missing[r] = struct{}{}
				}
			}
			if f != cur {
				flush(i)
				cur = f
			}
			segW += gi.w
		}
		flush(len(t))
	}
	return total
}

// truncate lays out the longest prefix of s (logical order) followed by
// "…" that fits in w (at font size 1) and returns its width.
func (p *Writer) truncate(s string, w float64, bold bool) float64 {
	rs := []rune(s)
	cut := func(n int) string {
		return withEllipsis(strings.TrimRightFunc(string(rs[:n]), unicode.IsSpace))
	}
	best := 0
	for lo, hi := 1, len(rs)-1; lo <= hi; {
		mid := (lo + hi) / 2
		if p.layout(cut(mid), bold) <= w {
			best, lo = mid, mid+1
		} else {
			hi = mid - 1
		}
	}
	return p.layout(cut(best), bold)
}

// withEllipsis appends "…" to s with a direction mark after it that
// makes it follow the direction of the last letter: otherwise the bidi
// algorithm puts it beside the start of Latin text in an RTL line (or of
// Arabic text in an LTR line). arabic.Visual drops the marks.
func withEllipsis(s string) string {
	for i := len(s); i > 0; {
		r, n := utf8.DecodeLastRuneInString(s[:i])
		i -= n
		if unicode.IsLetter(r) {
			if arabic.IsArabicScript(r) {
				return s + "…\u200f" // RLM
			}
			return s + "…\u200e" // LRM
		}
	}
	return s + "…"
}

// glyph reports whether font has r and its advance at size 1, cached.
func (p *Writer) glyph(r rune, font int) glyphInfo {
	k := glyphKey{r, font}
	if gi, ok := p.glyphs[k]; ok {
		return gi
	}
	var gi glyphInfo
	p.setFont(font, 1000)
	if has, err := p.pdf.IsCurrFontContainGlyph(r); err != nil {
		p.fail(fmt.Errorf("pdf: look up glyph U+%04X: %w", r, err))
	} else if has {
		w, err := p.pdf.MeasureTextWidth(string(r))
		if err != nil {
			p.fail(fmt.Errorf("pdf: measure U+%04X: %w", r, err))
		}
		gi = glyphInfo{ok: true, w: w / 1000}
	}
	p.glyphs[k] = gi
	return gi
}

func (p *Writer) setFont(font int, size float64) {
	if font == p.curFont {
		if size != p.curSize {
			p.pdf.SetFontSize(size)
			p.curSize = size
		}
		return
	}
	f := fontFiles[font]
	if err := p.pdf.SetFontWithStyle(f.family, f.style, size); err != nil {
		p.fail(fmt.Errorf("pdf: set font %s: %w", f.file, err))
		return
	}
	p.curFont, p.curSize = font, size
}

// loadFonts reads the embedded fonts once, with their nested composite
// glyphs flattened. The data is shared read-only by every Writer.
var loadFonts = sync.OnceValues(func() ([numFonts][]byte, error) {
	var fonts [numFonts][]byte
	for i, f := range fontFiles {
		data, err := fs.ReadFile(templates.FS, f.file)
		if err != nil {
			return fonts, fmt.Errorf("pdf: load font: %w", err)
		}
		if fonts[i], err = font.Flatten(data); err != nil {
			return fonts, fmt.Errorf("pdf: load font %s: %w", f.file, err)
		}
	}
	return fonts, nil
})
