package arabic

import "golang.org/x/text/unicode/bidi"

// This file implements the subset of the Unicode Bidirectional Algorithm
// (UAX #9) needed for one line of one paragraph with a known direction:
// rules W1, W3-W7, N0 (bracket pairs), N1-N2, I1-I2, L1 and L2. Two
// deliberate deviations keep numbers as written in Arabic context: W2 is
// skipped and a sign before a number joins it (see resolve). Explicit
// embeddings, overrides and isolates (X1-X10) are not supported: their
// control characters, like all boundary neutrals, are removed before
// resolution (X9). Character classes come from golang.org/x/text/unicode/bidi,
// whose Paragraph API cannot force a left-to-right paragraph and does not
// expose embedding levels.

// maxBracketDepth is the bracket-pair stack limit of BD16.
const maxBracketDepth = 63

// isRemoved reports whether a character of class c is removed by rule X9.
func isRemoved(c bidi.Class) bool {
	switch c {
	case bidi.BN, bidi.LRE, bidi.RLE, bidi.LRO, bidi.RLO, bidi.PDF, bidi.LRI, bidi.RLI, bidi.FSI, bidi.PDI:
		return true
	}
	return false
}

// resolver holds the scratch state of one resolution; reused through a pool.
type resolver struct {
	orig   []bidi.Class // classes as looked up
	types  []bidi.Class // classes as resolved
	levels []uint8
	stack  []bracketOpen
	pairs  []bracketPair
}

type bracketOpen struct {
	closing rune
	pos     int
}

type bracketPair struct{ open, close int }

// resolve computes the embedding level of each rune of text after rules
// W1-L1, for a paragraph of level para (0 or 1). r.orig must hold the
// classes of text, none of them removed by X9.
func (r *resolver) resolve(text []rune, para uint8) {
	n := len(text)
	t := append(r.types[:0], r.orig...)
	r.types = t
	sos := bidi.L
	if para == 1 {
		sos = bidi.R
	}
	eos := sos

	// W1: non-spacing marks take the type of the previous character.
	for i := range t {
		if t[i] == bidi.NSM {
			if i == 0 {
				t[i] = sos
			} else {
				t[i] = t[i-1]
			}
		}
	}
	// W2 is deliberately skipped: European digits after Arabic letters stay
	// European numbers, so that W4 and W5 keep "2024-03", "+962" and "12%"
	// together in written order (with W2 they would become Arabic numbers and
	// an RTL line would show "03-2024" and "%12", as browsers do).
	// W3: Arabic letters become R.
	for i := range t {
		if t[i] == bidi.AL {
			t[i] = bidi.R
		}
	}
	// W4: a single separator between two numbers of the same kind.
	for i := 1; i+1 < n; i++ {
		switch {
		case t[i] == bidi.ES && t[i-1] == bidi.EN && t[i+1] == bidi.EN:
			t[i] = bidi.EN
		case t[i] == bidi.CS && t[i-1] == bidi.EN && t[i+1] == bidi.EN:
			t[i] = bidi.EN
		case t[i] == bidi.CS && t[i-1] == bidi.AN && t[i+1] == bidi.AN:
			t[i] = bidi.AN
		}
	}
	// W5: terminators next to European numbers.
	for i := 0; i < n; {
		if t[i] != bidi.ET {
			i++
			continue
		}
		j := i
		for j < n && t[j] == bidi.ET {
			j++
		}
		if (i > 0 && t[i-1] == bidi.EN) || (j < n && t[j] == bidi.EN) {
			for k := i; k < j; k++ {
				t[k] = bidi.EN
			}
		}
		i = j
	}
	// Extension (not in UAX #9, same purpose as skipping W2): a plus or
	// minus sign directly before a number and not after one is part of it,
	// so "-1,234.500" and "+962" keep the sign on the left.
	for i := 0; i+1 < n; i++ {
		if t[i] == bidi.ES && t[i+1] == bidi.EN && (i == 0 || t[i-1] != bidi.EN) {
			t[i] = bidi.EN
		}
	}
	// W6: remaining separators and terminators become neutral.
	// W7: European numbers after L become L.
	last := sos
	for i := range t {
		switch t[i] {
		case bidi.ES, bidi.ET, bidi.CS:
			t[i] = bidi.ON
		case bidi.L, bidi.R:
			last = t[i]
		case bidi.EN:
			if last == bidi.L {
				t[i] = bidi.L
			}
		}
	}

	r.resolveBrackets(text, sos, para)

	// N1, N2: neutrals take the direction of equal surrounding strong types
	// (numbers count as R), else the embedding direction.
	embed := sos
	for i := 0; i < n; {
		if !isNeutral(t[i]) {
			i++
			continue
		}
		j := i
		for j < n && isNeutral(t[j]) {
			j++
		}
		before, after := sos, eos
		if i > 0 {
			before = strongOf(t[i-1])
		}
		if j < n {
			after = strongOf(t[j])
		}
		dir := embed
		if before == after {
			dir = before
		}
		for k := i; k < j; k++ {
			t[k] = dir
		}
		i = j
	}

	// I1, I2: implicit levels.
	lv := r.levels[:0]
	for _, c := range t {
		l := para
		switch {
		case para == 0 && c == bidi.R:
			l = 1
		case para == 0 && (c == bidi.AN || c == bidi.EN):
			l = 2
		case para == 1 && c != bidi.R:
			l = 2
		}
		lv = append(lv, l)
	}
	r.levels = lv

	// L1: segment separators, and whitespace before them or at the end of
	// the line, go back to the paragraph level.
	trailing := true
	for i := n - 1; i >= 0; i-- {
		switch r.orig[i] {
		case bidi.S, bidi.B:
			lv[i] = para
			trailing = true
		case bidi.WS:
			if trailing {
				lv[i] = para
			}
		default:
			trailing = false
		}
	}
}

// resolveBrackets applies rule N0 to paired brackets.
func (r *resolver) resolveBrackets(text []rune, sos bidi.Class, para uint8) {
	t := r.types
	stack := r.stack[:0]
	pairs := r.pairs[:0]
	defer func() { r.stack, r.pairs = stack[:0], pairs[:0] }()
	// BD16: identify bracket pairs.
scan:
	for i, c := range text {
		if t[i] != bidi.ON {
			continue
		}
		if closing, ok := openingBracket(c); ok {
			if len(stack) == maxBracketDepth {
				break scan
			}
			stack = append(stack, bracketOpen{closing: closing, pos: i})
			continue
		}
		for k := len(stack) - 1; k >= 0; k-- {
			if stack[k].closing == c {
				pairs = append(pairs, bracketPair{stack[k].pos, i})
				stack = stack[:k]
				break
			}
		}
	}
	if len(pairs) == 0 {
		return
	}
	sortPairs(pairs)
	embed := sos
	opposite := bidi.L
	if para == 0 {
		opposite = bidi.R
	}
	for _, p := range pairs {
		foundEmbed, foundOpposite := false, false
		for k := p.open + 1; k < p.close; k++ {
			switch strongOf(t[k]) {
			case embed:
				foundEmbed = true
			case opposite:
				foundOpposite = true
			}
		}
		var dir bidi.Class
		switch {
		case foundEmbed:
			dir = embed
		case foundOpposite:
			dir = embed
			ctx := sos
			for k := p.open - 1; k >= 0; k-- {
				if s := strongOf(t[k]); s == bidi.L || s == bidi.R {
					ctx = s
					break
				}
			}
			if ctx == opposite {
				dir = opposite
			}
		default:
			continue
		}
		for _, k := range [2]int{p.open, p.close} {
			t[k] = dir
			// Marks on a bracket follow it (W1 made them ON).
			for m := k + 1; m < len(t) && r.orig[m] == bidi.NSM; m++ {
				t[m] = dir
			}
		}
	}
}

// sortPairs sorts bracket pairs by opening position (insertion sort: the
// list is short and nearly sorted).
func sortPairs(p []bracketPair) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].open < p[j-1].open; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// isNeutral reports whether c is a neutral or separator for rules N1 and N2.
func isNeutral(c bidi.Class) bool {
	switch c {
	case bidi.B, bidi.S, bidi.WS, bidi.ON:
		return true
	}
	return false
}

// strongOf maps a resolved class to L or R, counting numbers as R; other
// classes map to ON.
func strongOf(c bidi.Class) bidi.Class {
	switch c {
	case bidi.L:
		return bidi.L
	case bidi.R, bidi.AL, bidi.EN, bidi.AN:
		return bidi.R
	}
	return bidi.ON
}

// reorder fills order with the visual order of indexes for levels (rule L2):
// from the highest level down to the lowest odd level, every maximal
// sequence at that level or higher is reversed.
func reorder(order []int, levels []uint8) []int {
	order = order[:0]
	var hi, lowOdd uint8 = 0, 255
	for i, l := range levels {
		order = append(order, i)
		hi = max(hi, l)
		if l%2 == 1 {
			lowOdd = min(lowOdd, l)
		}
	}
	for l := hi; l >= lowOdd && l > 0; l-- {
		for i := 0; i < len(levels); {
			if levels[order[i]] < l {
				i++
				continue
			}
			j := i
			for j < len(levels) && levels[order[j]] >= l {
				j++
			}
			for a, b := i, j-1; a < b; a, b = a+1, b-1 {
				order[a], order[b] = order[b], order[a]
			}
			i = j
		}
	}
	return order
}

// mirrorPairs lists characters with the Bidi_Mirrored property that are
// drawn mirrored at right-to-left levels (rule L4), as opening/closing pairs.
// Those marked as paired brackets also take part in rule N0.
var mirrorPairs = [...]struct {
	a, b    rune
	bracket bool
}{
	{'(', ')', true}, {'[', ']', true}, {'{', '}', true},
	{'<', '>', false}, {'«', '»', false}, {'‹', '›', false},
	{'⁅', '⁆', true}, {'⁽', '⁾', true}, {'₍', '₎', true},
	{'≤', '≥', false}, {'≪', '≫', false}, {'⊂', '⊃', false},
	{'⌈', '⌉', true}, {'⌊', '⌋', true}, {'〈', '〉', true},
	{'⟨', '⟩', true}, {'⟦', '⟧', true}, {'⟪', '⟫', true},
	{'⦃', '⦄', true}, {'⦅', '⦆', true},
	{'〈', '〉', true}, {'《', '》', true}, {'「', '」', true},
	{'『', '』', true}, {'【', '】', true}, {'〔', '〕', true},
	{'（', '）', true}, {'［', '］', true}, {'｛', '｝', true},
	{'＜', '＞', false}, {'｢', '｣', true},
}

// openingBracket returns the closing partner of an opening paired bracket.
func openingBracket(c rune) (rune, bool) {
	for _, p := range mirrorPairs {
		if p.a == c && p.bracket {
			return p.b, true
		}
	}
	return 0, false
}

// mirror returns the mirrored glyph of c, or c.
func mirror(c rune) rune {
	if c < 0x28 {
		return c
	}
	for _, p := range mirrorPairs {
		switch c {
		case p.a:
			return p.b
		case p.b:
			return p.a
		}
	}
	return c
}
