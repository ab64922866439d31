package font

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"testing"

	"lms-backup/templates"
)

func readFont(t testing.TB, name string) []byte {
	t.Helper()
	data, err := fs.ReadFile(templates.FS, "fonts/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestFlattenEmbeddedFonts flattens the embedded fonts (Noto Naskh
// Arabic builds its dotted letters as composites of composites) and checks that the result has
// no nested composite left, keeps every simple glyph byte for byte, and
// is left alone by a second Flatten.
func TestFlattenEmbeddedFonts(t *testing.T) {
	for _, name := range []string{"NotoNaskhArabic-Regular.ttf", "NotoNaskhArabic-Bold.ttf", "NotoSans-Regular.ttf", "NotoSans-Bold.ttf"} {
		t.Run(name, func(t *testing.T) {
			orig := readFont(t, name)
			keep := bytes.Clone(orig)
			flat, err := Flatten(orig)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(orig, keep) {
				t.Fatal("Flatten modified its input")
			}
			if len(flat) <= len(orig) {
				t.Fatalf("nothing flattened (%d bytes in, %d out)", len(orig), len(flat))
			}
			before, err := parse(orig)
			if err != nil {
				t.Fatal(err)
			}
			after, err := parse(flat)
			if err != nil {
				t.Fatal(err)
			}
			if after.numGlyphs != before.numGlyphs {
				t.Fatalf("%d glyphs, want %d", after.numGlyphs, before.numGlyphs)
			}
			if got := binary.BigEndian.Uint16(after.table("head")[50:]); got != 1 {
				t.Errorf("indexToLocFormat %d, want 1 (long)", got)
			}
			nested, flattened := 0, 0
			for g := range before.numGlyphs {
				if _, changed := before.leaves(g, 0); changed {
					flattened++
				}
				if _, changed := after.leaves(g, 0); changed {
					nested++
				}
				if parseComponents(before.glyph(g)) == nil { // simple or empty
					old, cur := before.glyph(g), after.glyph(g)
					if !bytes.Equal(cur[:len(old)], old) || len(bytes.Trim(cur[len(old):], "\x00")) != 0 {
						t.Fatalf("glyph %d changed", g)
					}
				}
			}
			if flattened == 0 || nested != 0 {
				t.Errorf("%d glyphs flattened, %d still nested", flattened, nested)
			}
			again, err := Flatten(flat)
			if err != nil || &again[0] != &flat[0] {
				t.Errorf("second Flatten: err %v, copied %v", err, &again[0] != &flat[0])
			}
		})
	}
}

// TestFlattenNoGlyf: a font without a glyf table comes back as it is.
func TestFlattenNoGlyf(t *testing.T) {
	noGlyf := make([]byte, 12) // a directory with no tables
	if got, err := Flatten(noGlyf); err != nil || &got[0] != &noGlyf[0] {
		t.Errorf("font without glyf: %v", err)
	}
}

func TestFlattenMalformed(t *testing.T) {
	entry := func(tag string, off, n uint32) []byte {
		b := append([]byte(tag), 0, 0, 0, 0)
		b = binary.BigEndian.AppendUint32(b, off)
		return binary.BigEndian.AppendUint32(b, n)
	}
	header := func(n int) []byte { return []byte{0, 1, 0, 0, 0, byte(n), 0, 0, 0, 0, 0, 0} }
	for _, tc := range []struct {
		name string
		font []byte
	}{
		{"empty", nil},
		{"short header", make([]byte, 11)},
		{"directory past the end", header(2)},
		{"table past the end", append(header(1), entry("glyf", 20, 100)...)},
		{"glyf without head", append(header(1), entry("glyf", 0, 12)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Flatten(tc.font); !errors.Is(err, ErrMalformed) {
				t.Errorf("err %v, want ErrMalformed", err)
			}
		})
	}
}

// FuzzFlatten: any input gives a font or ErrMalformed, never a panic, and
// a flattened font flattens to itself.
func FuzzFlatten(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 12))
	f.Add(append([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, []byte("glyf\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10")...))
	f.Fuzz(func(t *testing.T, font []byte) {
		out, err := Flatten(font)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if _, err := Flatten(out); err != nil {
			t.Fatalf("flattened font: %v", err)
		}
	})
}
