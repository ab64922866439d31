// Package font rewrites TrueType fonts so that gopdf's subsetter keeps
// every part of every glyph: Flatten replaces nested composite glyphs by
// composites of their leaf glyphs. It works on the font file's bytes and
// imports nothing of ours.
package font

import (
	"encoding/binary"
	"errors"
)

// ErrMalformed is returned for data that is not a well-formed TrueType font.
var ErrMalformed = errors.New("font: malformed TrueType font")

// Composite glyph flags (OpenType glyf table).
const (
	argsAreWords   = 0x0001
	argsAreXY      = 0x0002
	hasScale       = 0x0008
	moreComponents = 0x0020
	xyScale        = 0x0040
	twoByTwo       = 0x0080
	instructions   = 0x0100
	useMyMetrics   = 0x0200
	anyScale       = hasScale | xyScale | twoByTwo
)

// maxDepth bounds the nesting followed when flattening; deeper glyphs
// are left as they are.
const maxDepth = 8

// Flatten works around gopdf v0.33's subsetter, which adds the
// components of the glyphs used but not the components of those
// components: Noto Naskh Arabic builds its dotted letters as composites of
// a dotless letter and a dots glyph that is itself a composite, so every
// dot vanished from the PDF. It returns font with such glyphs rewritten to
// refer to their leaf glyphs directly (translations added; a scaled outer
// component is left alone). The new glyf and loca tables (long offsets)
// are appended to the file and the table directory points at them; font
// is returned unchanged when nothing needs flattening or when it has no
// glyf table. font itself is never modified.
//
// The steps: parse (table directory, loca), flattenGlyphs (each glyph's
// leaf components), rewrite (append the new tables, repoint the
// directory, set long loca offsets in head).
func Flatten(font []byte) ([]byte, error) {
	f, err := parse(font)
	if err != nil {
		return nil, err
	}
	if f.glyf == nil {
		return font, nil // not a glyf-based font; nothing to do
	}
	glyf, loca, changed := f.flattenGlyphs()
	if !changed {
		return font, nil
	}
	return f.rewrite(glyf, loca)
}

// sfnt is a parsed TrueType font: the file, where its tables are, and
// where each glyph's data is. Its slices point into the file.
type sfnt struct {
	data      []byte
	dir       map[string]int // table tag -> offset of its directory entry
	glyf      []byte         // nil when the font has no glyf table
	offsets   []int          // glyph g is glyf[offsets[g]:offsets[g+1]]
	numGlyphs int
}

// component is one component of a composite glyph.
type component struct {
	flags  uint16
	glyph  uint16
	dx, dy int
	scale  []byte // 0, 2, 4 or 8 bytes as in the font
}

// parse reads the table directory and, for a glyf-based font, the glyph
// offsets.
func parse(font []byte) (*sfnt, error) {
	dir, err := parseDirectory(font)
	if err != nil {
		return nil, err
	}
	f := &sfnt{data: font, dir: dir}
	f.glyf = f.table("glyf")
	if f.glyf == nil {
		return f, nil
	}
	head, maxp := f.table("head"), f.table("maxp")
	if len(head) < 54 || len(maxp) < 6 {
		return nil, ErrMalformed
	}
	f.numGlyphs = int(binary.BigEndian.Uint16(maxp[4:]))
	long := binary.BigEndian.Uint16(head[50:]) != 0
	if f.offsets, err = parseLoca(f.table("loca"), len(f.glyf), f.numGlyphs, long); err != nil {
		return nil, err
	}
	return f, nil
}

// parseDirectory returns the offset of each table's directory entry by
// tag, checking that every table lies inside the file.
func parseDirectory(font []byte) (map[string]int, error) {
	if len(font) < 12 {
		return nil, ErrMalformed
	}
	numTables := int(binary.BigEndian.Uint16(font[4:]))
	if len(font) < 12+16*numTables {
		return nil, ErrMalformed
	}
	dir := make(map[string]int, numTables)
	for i := range numTables {
		e := 12 + 16*i
		off, n := binary.BigEndian.Uint32(font[e+8:]), binary.BigEndian.Uint32(font[e+12:])
		if uint64(off)+uint64(n) > uint64(len(font)) {
			return nil, ErrMalformed
		}
		dir[string(font[e:e+4])] = e
	}
	return dir, nil
}

// table returns the table with tag, or nil if the font has none.
func (f *sfnt) table(tag string) []byte {
	e, ok := f.dir[tag]
	if !ok {
		return nil
	}
	off, n := binary.BigEndian.Uint32(f.data[e+8:]), binary.BigEndian.Uint32(f.data[e+12:])
	return f.data[off : off+n]
}

// parseLoca decodes the loca table (long or short offsets) into
// numGlyphs+1 byte offsets into a glyf table of glyfLen bytes, which
// must not decrease.
func parseLoca(loca []byte, glyfLen, numGlyphs int, long bool) ([]int, error) {
	offsets := make([]int, numGlyphs+1)
	for g := range offsets {
		var o int
		if long {
			if len(loca) < 4*(g+1) {
				return nil, ErrMalformed
			}
			o = int(binary.BigEndian.Uint32(loca[4*g:]))
		} else {
			if len(loca) < 2*(g+1) {
				return nil, ErrMalformed
			}
			o = 2 * int(binary.BigEndian.Uint16(loca[2*g:]))
		}
		if o > glyfLen || g > 0 && o < offsets[g-1] {
			return nil, ErrMalformed
		}
		offsets[g] = o
	}
	return offsets, nil
}

// glyph returns the data of glyph g, nil for a glyph number out of range.
func (f *sfnt) glyph(g int) []byte {
	if g >= f.numGlyphs {
		return nil
	}
	return f.glyf[f.offsets[g]:f.offsets[g+1]]
}

// parseComponents returns the components of the composite glyph d, or
// nil when d is a simple glyph or its component list runs off its end.
func parseComponents(d []byte) []component {
	if len(d) < 10 || int16(binary.BigEndian.Uint16(d)) >= 0 {
		return nil
	}
	var cs []component
	for o := 10; o+4 <= len(d); {
		c := component{flags: binary.BigEndian.Uint16(d[o:]), glyph: binary.BigEndian.Uint16(d[o+2:])}
		o += 4
		if c.flags&argsAreWords != 0 {
			if o+4 > len(d) {
				return nil
			}
			c.dx, c.dy = int(int16(binary.BigEndian.Uint16(d[o:]))), int(int16(binary.BigEndian.Uint16(d[o+2:])))
			o += 4
		} else {
			if o+2 > len(d) {
				return nil
			}
			c.dx, c.dy = int(int8(d[o])), int(int8(d[o+1]))
			o += 2
		}
		n := scaleLen(c.flags)
		if o+n > len(d) {
			return nil
		}
		c.scale = d[o : o+n]
		o += n
		cs = append(cs, c)
		if c.flags&moreComponents == 0 {
			return cs
		}
	}
	return nil // ran off the end: leave the glyph alone
}

// scaleLen is the size of a component's transformation for its flags.
func scaleLen(flags uint16) int {
	switch {
	case flags&hasScale != 0:
		return 2
	case flags&xyScale != 0:
		return 4
	case flags&twoByTwo != 0:
		return 8
	}
	return 0
}

// leaves returns the components of glyph g with composite components
// replaced by their own (recursively), and whether anything changed. A
// component that is scaled or placed by point matching is kept as it is;
// so is all of g when an inner component is placed by point matching or a
// summed offset does not fit 16 bits.
func (f *sfnt) leaves(g, depth int) ([]component, bool) {
	cs := parseComponents(f.glyph(g))
	if cs == nil || depth > maxDepth {
		return cs, false
	}
	changed := false
	out := make([]component, 0, len(cs))
	for _, c := range cs {
		inner, _ := f.leaves(int(c.glyph), depth+1)
		if inner == nil || c.flags&argsAreXY == 0 || c.flags&anyScale != 0 {
			out = append(out, c)
			continue
		}
		moved, ok := translate(inner, c.dx, c.dy)
		if !ok {
			return cs, false
		}
		out = append(out, moved...)
		changed = true
	}
	return out, changed
}

// translate moves the components cs by (dx, dy) in place. It reports
// false if one is placed by point matching or ends up outside 16 bits.
func translate(cs []component, dx, dy int) ([]component, bool) {
	for i := range cs {
		ic := &cs[i]
		if ic.flags&argsAreXY == 0 {
			return nil, false // point matching: keep the outer glyph as it is
		}
		ic.dx += dx
		ic.dy += dy
		if ic.dx != int(int16(ic.dx)) || ic.dy != int(int16(ic.dy)) {
			return nil, false
		}
	}
	return cs, true
}

// flattenGlyphs builds a new glyf table with every nested composite
// replaced by its leaves, and its loca table (long offsets). changed is
// false when no glyph needed it.
func (f *sfnt) flattenGlyphs() (glyf, loca []byte, changed bool) {
	glyf = make([]byte, 0, len(f.glyf)+len(f.glyf)/8)
	loca = make([]byte, 0, 4*(f.numGlyphs+1))
	for g := range f.numGlyphs {
		loca = binary.BigEndian.AppendUint32(loca, uint32(len(glyf)))
		d := f.glyph(g)
		if cs, ok := f.leaves(g, 0); ok {
			changed = true
			glyf = appendComposite(glyf, d[:10], cs)
		} else {
			glyf = append(glyf, d...)
		}
		for len(glyf)%4 != 0 {
			glyf = append(glyf, 0)
		}
	}
	loca = binary.BigEndian.AppendUint32(loca, uint32(len(glyf)))
	return glyf, loca, changed
}

// appendComposite appends a composite glyph with header hdr
// (numberOfContours -1 and the bounding box) and components cs, each with
// word-sized x/y offsets and no instructions.
func appendComposite(b, hdr []byte, cs []component) []byte {
	b = append(b, hdr...)
	for i, c := range cs {
		fl := c.flags&^(moreComponents|instructions|useMyMetrics) | argsAreWords | argsAreXY
		if i < len(cs)-1 {
			fl |= moreComponents
		}
		b = binary.BigEndian.AppendUint16(b, fl)
		b = binary.BigEndian.AppendUint16(b, c.glyph)
		b = binary.BigEndian.AppendUint16(b, uint16(int16(c.dx)))
		b = binary.BigEndian.AppendUint16(b, uint16(int16(c.dy)))
		b = append(b, c.scale...)
	}
	return b
}

// rewrite returns a copy of the font with glyf and loca appended (each
// 4-byte aligned), the table directory pointing at them and head's
// indexToLocFormat set to long offsets.
func (f *sfnt) rewrite(glyf, loca []byte) ([]byte, error) {
	out := make([]byte, len(f.data), len(f.data)+3+len(glyf)+len(loca))
	copy(out, f.data)
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	setEntry := func(tag string, b []byte) {
		e := f.dir[tag]
		binary.BigEndian.PutUint32(out[e+8:], uint32(len(out)))
		binary.BigEndian.PutUint32(out[e+12:], uint32(len(b)))
		out = append(out, b...)
	}
	setEntry("glyf", glyf)
	if _, ok := f.dir["loca"]; !ok {
		return nil, ErrMalformed
	}
	setEntry("loca", loca)
	headOff := binary.BigEndian.Uint32(f.data[f.dir["head"]+8:])
	binary.BigEndian.PutUint16(out[headOff+50:], 1) // indexToLocFormat: long
	return out, nil
}
