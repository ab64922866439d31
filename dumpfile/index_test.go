package dumpfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// interleaved writes a dump whose tables' data frames interleave, with
// parts numbered by the writer, and returns the file and its trailer.
func interleaved(t *testing.T, c Compression) ([]byte, Trailer) {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, c)
	if err != nil {
		t.Fatal(err)
	}
	write := func(content string, info FrameInfo) {
		t.Helper()
		buf := []byte(content)
		if err := w.WriteFrame(&buf, info); err != nil {
			t.Fatal(err)
		}
	}
	write(string(AppendHeaderLine(nil, Header{Tool: "test", Database: "src", Started: time.Unix(0, 0).UTC()})), FrameInfo{Kind: KindHeader})
	write("CREATE TABLE `a` (x int);\n", FrameInfo{Kind: KindSchema, Table: "a"})
	write("CREATE TABLE `b` (y int);\n", FrameInfo{Kind: KindSchema, Table: "b"})
	write("CREATE TABLE `c` (z int);\n", FrameInfo{Kind: KindSchema, Table: "c"})
	for i := range 6 {
		table := []string{"a", "b"}[i%3/2] // a a b a a b
		write(fmt.Sprintf("INSERT INTO `%s` VALUES (%d),(%d);\n", table, i, i+100), FrameInfo{Kind: KindData, Table: table, Rows: 2})
	}
	tr := Trailer{Tables: []TableSummary{{Name: "a", Rows: 8}, {Name: "b", Rows: 4}, {Name: "c"}}}
	buf := w.AppendTrailer(nil, &tr)
	write(string(buf), FrameInfo{Kind: KindTrailer})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), tr
}

// TestTrailerIndex reads every indexed frame on its own from its offset and
// length: each is one whole frame of the indexed table, part and rows.
func TestTrailerIndex(t *testing.T) {
	for _, c := range []Compression{Zstd, Gzip, None} {
		t.Run(string(c), func(t *testing.T) {
			file, tr := interleaved(t, c)
			if _, _, err := readAll(file); err != nil {
				t.Fatalf("reader: %v", err)
			}
			if tr.Frames != 10 || tr.Tables[0].DataFrames != 4 || tr.Tables[1].DataFrames != 2 || tr.Tables[2].Frames != nil {
				t.Fatalf("trailer %+v", tr)
			}
			for _, ts := range tr.Tables[:2] {
				info := frameAt(t, file, c, ts.Schema[0], ts.Schema[1])
				if info.Kind != KindSchema || info.Table != ts.Name {
					t.Errorf("schema of %s at %v: %+v", ts.Name, ts.Schema, info)
				}
				for i, f := range ts.Frames {
					info := frameAt(t, file, c, f[0], f[1])
					if info.Kind != KindData || info.Table != ts.Name || info.Part != i+1 || info.Rows != f[2] {
						t.Errorf("frame %v of %s: %+v, want part %d", f, ts.Name, info, i+1)
					}
				}
			}
			line, _ := json.Marshal(tr)
			if per := len(line) / 6; per > 80 {
				t.Errorf("the trailer takes %d bytes per data frame", per)
			}
		})
	}
}

// frameAt reads the frame at off+n with ReadFrameAt.
func frameAt(t *testing.T, file []byte, c Compression, off, n int64) FrameInfo {
	t.Helper()
	f, err := ReadFrameAt(bytes.NewReader(file), c, off, n)
	if err != nil {
		t.Fatal(err)
	}
	return f.Info
}

// TestReadFrameAtRefusesDamage: bytes that are not one whole frame, or a
// frame whose content was changed, are refused as corrupt.
func TestReadFrameAtRefusesDamage(t *testing.T) {
	for _, c := range []Compression{Zstd, Gzip, None} {
		t.Run(string(c), func(t *testing.T) {
			file, tr := interleaved(t, c)
			f := tr.Tables[0].Frames[1]
			for name, span := range map[string][2]int64{"cut short": {f[0], f[1] - 1}, "shifted": {f[0] + 1, f[1]}, "past the end": {f[0], int64(len(file))}} {
				if _, err := ReadFrameAt(bytes.NewReader(file), c, span[0], span[1]); !errors.Is(err, ErrCorrupt) {
					t.Errorf("%s: %v, want ErrCorrupt", name, err)
				}
			}
		})
	}
	file, tr := interleaved(t, None)
	f := tr.Tables[0].Frames[0]
	bad := append([]byte(nil), file...)
	bad[f[0]+10] ^= 1
	if _, err := ReadFrameAt(bytes.NewReader(bad), None, f[0], f[1]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("changed content: %v, want ErrCorrupt", err)
	}
}

// TestWriterRejectsWrongPart: an explicit part out of order is refused
// before anything is written, and the error sticks.
func TestWriterRejectsWrongPart(t *testing.T) {
	var out bytes.Buffer
	w, err := NewWriter(&out, None)
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte("x;\n")
	if err := w.WriteFrame(&buf, FrameInfo{Kind: KindData, Table: "a", Part: 2}); err == nil || !strings.Contains(err.Error(), "part 1 belongs") {
		t.Fatalf("part 2 first: %v", err)
	}
	if out.Len() != 0 {
		t.Fatal("a refused frame was written")
	}
	buf = []byte("x;\n")
	if err := w.WriteFrame(&buf, FrameInfo{Kind: KindData, Table: "a", Part: 1}); err == nil {
		t.Fatal("the error did not stick")
	}
}

// TestIndexMismatch: a trailer whose index disagrees with its counts is
// damage.
func TestIndexMismatch(t *testing.T) {
	file, _ := interleaved(t, None)
	bad := bytes.Replace(file, []byte(`,2]]},{"name":"b"`), []byte(`,3]]},{"name":"b"`), 1)
	if bytes.Equal(bad, file) {
		t.Fatal("test does not find the index in the trailer")
	}
	// The trailer frame's CRC covers the index, so fix it up: rewrite the
	// last frame with the edited trailer line.
	i := bytes.LastIndex(bad, []byte(framePrefix))
	prev := bytes.LastIndex(bad[:i], []byte(framePrefix))
	start := prev + bytes.IndexByte(bad[prev:], '\n') + 1
	content := append([]byte(nil), bad[start:i]...)
	bad = append(bad[:start:start], appendMarker(content, FrameInfo{Kind: KindTrailer})...)
	_, _, err := readAll(bad)
	if err == nil || !strings.Contains(err.Error(), "index lists 4 frames with 9 rows") {
		t.Fatalf("reader: %v", err)
	}
}
