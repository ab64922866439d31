package arabic

import "unicode"

// joining is the Arabic joining type of a character (Unicode ArabicShaping.txt).
type joining uint8

const (
	joinNone        joining = iota // U: non-joining
	joinRight                      // R: joins the preceding letter only
	joinDual                       // D: joins both sides
	joinCausing                    // C: tatweel, ZWJ
	joinTransparent                // T: marks, skipped when deciding joins
)

// forms holds the presentation forms of one letter; 0 means "no such form".
type forms struct {
	iso, fin, ini, med rune
}

const (
	lam     = 0x0644
	tatweel = 0x0640
	zwnj    = 0x200C
	zwj     = 0x200D
)

// formTable maps U+0600..U+06FF to presentation forms, built from formList;
// letters missing here are treated as non-joining.
var formTable = buildFormTable()

// formList lists each letter with the code point of its isolated form and the
// number of consecutive forms (isolated, final, initial, medial) that follow
// in the presentation-form blocks. Letters with two forms are right-joining,
// with four dual-joining. Checked against the Unicode names in the tests.
var formList = [...]struct {
	base, iso rune
	n         int
}{
	// Arabic Presentation Forms-B (U+FE70..U+FEFF).
	{0x0621, 0xFE80, 1}, // hamza
	{0x0622, 0xFE81, 2}, // alef with madda
	{0x0623, 0xFE83, 2}, // alef with hamza above
	{0x0624, 0xFE85, 2}, // waw with hamza
	{0x0625, 0xFE87, 2}, // alef with hamza below
	{0x0626, 0xFE89, 4}, // yeh with hamza
	{0x0627, 0xFE8D, 2}, // alef
	{0x0628, 0xFE8F, 4}, // beh
	{0x0629, 0xFE93, 2}, // teh marbuta
	{0x062A, 0xFE95, 4}, // teh
	{0x062B, 0xFE99, 4}, // theh
	{0x062C, 0xFE9D, 4}, // jeem
	{0x062D, 0xFEA1, 4}, // hah
	{0x062E, 0xFEA5, 4}, // khah
	{0x062F, 0xFEA9, 2}, // dal
	{0x0630, 0xFEAB, 2}, // thal
	{0x0631, 0xFEAD, 2}, // reh
	{0x0632, 0xFEAF, 2}, // zain
	{0x0633, 0xFEB1, 4}, // seen
	{0x0634, 0xFEB5, 4}, // sheen
	{0x0635, 0xFEB9, 4}, // sad
	{0x0636, 0xFEBD, 4}, // dad
	{0x0637, 0xFEC1, 4}, // tah
	{0x0638, 0xFEC5, 4}, // zah
	{0x0639, 0xFEC9, 4}, // ain
	{0x063A, 0xFECD, 4}, // ghain
	{0x0641, 0xFED1, 4}, // feh
	{0x0642, 0xFED5, 4}, // qaf
	{0x0643, 0xFED9, 4}, // kaf
	{0x0644, 0xFEDD, 4}, // lam
	{0x0645, 0xFEE1, 4}, // meem
	{0x0646, 0xFEE5, 4}, // noon
	{0x0647, 0xFEE9, 4}, // heh
	{0x0648, 0xFEED, 2}, // waw
	{0x0649, 0xFEEF, 2}, // alef maksura
	{0x064A, 0xFEF1, 4}, // yeh

	// Arabic Presentation Forms-A (U+FB50..U+FDFF): Persian, Urdu and others.
	{0x0671, 0xFB50, 2}, // alef wasla
	{0x067B, 0xFB52, 4}, // beeh
	{0x067E, 0xFB56, 4}, // peh
	{0x0680, 0xFB5A, 4}, // beheh
	{0x067A, 0xFB5E, 4}, // ttehe
	{0x067F, 0xFB62, 4}, // teheh
	{0x0679, 0xFB66, 4}, // tteh
	{0x06A4, 0xFB6A, 4}, // veh
	{0x06A6, 0xFB6E, 4}, // peheh
	{0x0684, 0xFB72, 4}, // dyeh
	{0x0683, 0xFB76, 4}, // nyeh
	{0x0686, 0xFB7A, 4}, // tcheh
	{0x0687, 0xFB7E, 4}, // tcheheh
	{0x068D, 0xFB82, 2}, // ddahal
	{0x068C, 0xFB84, 2}, // dahal
	{0x068E, 0xFB86, 2}, // dul
	{0x0688, 0xFB88, 2}, // ddal
	{0x0698, 0xFB8A, 2}, // jeh
	{0x0691, 0xFB8C, 2}, // rreh
	{0x06A9, 0xFB8E, 4}, // keheh
	{0x06AF, 0xFB92, 4}, // gaf
	{0x06B3, 0xFB96, 4}, // gueh
	{0x06B1, 0xFB9A, 4}, // ngoeh
	{0x06BA, 0xFB9E, 2}, // noon ghunna (no initial/medial forms)
	{0x06BB, 0xFBA0, 4}, // rnoon
	{0x06C0, 0xFBA4, 2}, // heh with yeh above
	{0x06C1, 0xFBA6, 4}, // heh goal
	{0x06BE, 0xFBAA, 4}, // heh doachashmee
	{0x06D2, 0xFBAE, 2}, // yeh barree
	{0x06D3, 0xFBB0, 2}, // yeh barree with hamza above
	{0x06AD, 0xFBD3, 4}, // ng
	{0x06C7, 0xFBD7, 2}, // u
	{0x06C6, 0xFBD9, 2}, // oe
	{0x06C8, 0xFBDB, 2}, // yu
	{0x06CB, 0xFBDE, 2}, // ve
	{0x06C5, 0xFBE0, 2}, // kirghiz oe
	{0x06C9, 0xFBE2, 2}, // kirghiz yu
	{0x06D0, 0xFBE4, 4}, // e
	{0x06CC, 0xFBFC, 4}, // farsi yeh
}

func buildFormTable() (table [0x100]forms) {
	for _, e := range formList {
		f := &table[e.base-0x0600]
		f.iso = e.iso
		if e.n >= 2 {
			f.fin = e.iso + 1
		}
		if e.n == 4 {
			f.ini = e.iso + 2
			f.med = e.iso + 3
		}
	}
	return table
}

// lamAlef maps the alef that follows lam to the ligature's isolated and
// final forms.
func lamAlef(r rune) (iso, fin rune, ok bool) {
	switch r {
	case 0x0622: // alef with madda above
		return 0xFEF5, 0xFEF6, true
	case 0x0623: // alef with hamza above
		return 0xFEF7, 0xFEF8, true
	case 0x0625: // alef with hamza below
		return 0xFEF9, 0xFEFA, true
	case 0x0627: // alef
		return 0xFEFB, 0xFEFC, true
	}
	return 0, 0, false
}

// lookupForms returns the presentation forms of r, if r is a shapeable letter.
func lookupForms(r rune) (forms, bool) {
	if r < 0x0600 || r > 0x06FF {
		return forms{}, false
	}
	f := formTable[r-0x0600]
	return f, f.iso != 0
}

// joiningType returns the joining type of r.
func joiningType(r rune) joining {
	if f, ok := lookupForms(r); ok {
		switch {
		case f.ini != 0:
			return joinDual
		case f.fin != 0:
			return joinRight
		}
		return joinNone
	}
	switch r {
	case tatweel, zwj:
		return joinCausing
	case zwnj:
		return joinNone
	}
	if isTransparent(r) {
		return joinTransparent
	}
	return joinNone
}

// isTransparent reports whether r is skipped when deciding joins: harakat,
// shadda, superscript alef and other non-spacing marks and format characters.
func isTransparent(r rune) bool {
	switch {
	case r >= 0x064B && r <= 0x065F, r == 0x0670:
		return true
	case r < 0x0300:
		return false
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf)
}

// Shape returns s with Arabic letters replaced by their contextual
// presentation forms (isolated, initial, medial, final, and the four lam-alef
// ligatures), still in logical order. Marks are kept after their base,
// tatweel joins on both sides and is kept, everything else is unchanged.
func Shape(s string) string {
	return string(shape(nil, []rune(s)))
}

// shape appends the shaped form of src to dst and returns the extended slice.
func shape(dst, src []rune) []rune {
	for i := 0; i < len(src); i++ {
		r := src[i]
		f, ok := lookupForms(r)
		if !ok {
			dst = append(dst, r)
			continue
		}
		prev := joinNone
		if p := prevSolid(src, i); p >= 0 {
			prev = joiningType(src[p])
		}
		joinsPrev := f.fin != 0 && (prev == joinDual || prev == joinCausing)
		if r == lam {
			if n := nextSolid(src, i); n >= 0 {
				if iso, fin, ok := lamAlef(src[n]); ok {
					if joinsPrev {
						dst = append(dst, fin)
					} else {
						dst = append(dst, iso)
					}
					dst = append(dst, src[i+1:n]...) // marks on the lam
					i = n
					continue
				}
			}
		}
		joinsNext := false
		if f.ini != 0 {
			if n := nextSolid(src, i); n >= 0 {
				switch joiningType(src[n]) {
				case joinRight, joinDual, joinCausing:
					joinsNext = true
				}
			}
		}
		switch {
		case joinsPrev && joinsNext:
			dst = append(dst, f.med)
		case joinsPrev:
			dst = append(dst, f.fin)
		case joinsNext:
			dst = append(dst, f.ini)
		default:
			dst = append(dst, f.iso)
		}
	}
	return dst
}

// prevSolid returns the index of the nearest non-transparent rune before i, or -1.
func prevSolid(src []rune, i int) int {
	for j := i - 1; j >= 0; j-- {
		if !isTransparent(src[j]) || src[j] == zwj || src[j] == zwnj {
			return j
		}
	}
	return -1
}

// nextSolid returns the index of the nearest non-transparent rune after i, or -1.
func nextSolid(src []rune, i int) int {
	for j := i + 1; j < len(src); j++ {
		if !isTransparent(src[j]) || src[j] == zwj || src[j] == zwnj {
			return j
		}
	}
	return -1
}
