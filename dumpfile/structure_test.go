package dumpfile

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

// spec is one frame to write.
type spec struct {
	content string
	info    FrameInfo
}

// dumpSpec returns the frames of a small dump of two tables, a sequence and
// an objects frame; tag changes the rows so two dumps differ.
func dumpSpec(tag int) []spec {
	hdr := string(AppendHeaderLine(nil, Header{Tool: "test", Database: "src", Started: time.Unix(0, 0).UTC()}))
	ins := func(table string, from, n int) spec {
		s := fmt.Sprintf("INSERT INTO `%s` VALUES ", table)
		for i := range n {
			if i > 0 {
				s += ","
			}
			s += fmt.Sprintf("(%d)", from+i+tag*1000)
		}
		return spec{s + ";\n", FrameInfo{Kind: KindData, Table: table, Rows: int64(n)}}
	}
	return []spec{
		{hdr + "SET NAMES utf8mb4;\n", FrameInfo{Kind: KindHeader}},
		{"CREATE TABLE `a` (x int);\n", FrameInfo{Kind: KindSchema, Table: "a"}},
		ins("a", 0, 2+tag),
		ins("a", 10, 3),
		{"DROP SEQUENCE IF EXISTS `s`;\nCREATE SEQUENCE `s` start with 1;\n", FrameInfo{Kind: KindSchema, Table: "s"}},
		{"CREATE TABLE `b` (y int);\n", FrameInfo{Kind: KindSchema, Table: "b"}},
		ins("b", 0, 4),
		ins("a", 20, 1),
		{"CREATE VIEW `v` AS SELECT * FROM `a`;\n", FrameInfo{Kind: KindObjects}},
	}
}

// build writes frames and a trailer listing tables, and returns the file
// and the [start, end) of each frame in it, the trailer's last.
func build(t *testing.T, c Compression, frames []spec, tables []string) ([]byte, [][2]int) {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, c)
	if err != nil {
		t.Fatal(err)
	}
	var at [][2]int
	rows := map[string]int64{}
	write := func(content string, info FrameInfo) {
		t.Helper()
		start := out.Len()
		buf := []byte(content)
		if err := w.WriteFrame(&buf, info); err != nil {
			t.Fatal(err)
		}
		at = append(at, [2]int{start, out.Len()})
	}
	for _, f := range frames {
		rows[f.info.Table] += f.info.Rows
		write(f.content, f.info)
	}
	tr := Trailer{}
	for _, name := range tables {
		tr.Tables = append(tr.Tables, TableSummary{Name: name, Rows: rows[name]})
	}
	write("SET NAMES DEFAULT;\n"+string(w.AppendTrailer(nil, &tr)), FrameInfo{Kind: KindTrailer})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), at
}

// rawOrder returns the file made of file's frames (located by at) in the
// order order lists them: each frame's bytes are kept, checksums and the
// trailer with them.
func rawOrder(file []byte, at [][2]int, order []int) []byte {
	var out []byte
	for _, i := range order {
		out = append(out, file[at[i][0]:at[i][1]]...)
	}
	return out
}

func mustReject(t *testing.T, file []byte) {
	t.Helper()
	if _, _, err := readAll(file); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read: %v, want ErrCorrupt", err)
	}
}

// TestReorderedFrames moves the bytes of whole frames: every swap of two
// frames and every move of one frame to another place is rejected as
// damaged, for every compression.
func TestReorderedFrames(t *testing.T) {
	for _, c := range []Compression{None, Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			file, at := build(t, c, dumpSpec(0), []string{"a", "b"})
			if _, _, err := readAll(file); err != nil {
				t.Fatalf("the unchanged dump: %v", err)
			}
			n := len(at)
			for i := range n {
				for j := range n {
					if i == j {
						continue
					}
					if i < j {
						order := make([]int, n)
						for k := range order {
							order[k] = k
						}
						order[i], order[j] = j, i
						t.Run(fmt.Sprintf("swap %d %d", i, j), func(t *testing.T) { mustReject(t, rawOrder(file, at, order)) })
					}
					var order []int
					for k := range n {
						if k != i {
							order = append(order, k)
						}
					}
					order = append(order[:j], append([]int{i}, order[j:]...)...)
					t.Run(fmt.Sprintf("move %d to %d", i, j), func(t *testing.T) { mustReject(t, rawOrder(file, at, order)) })
				}
			}
		})
	}
}

// TestReframedOrder writes frames in a wrong order with valid checksums and
// a trailer whose index matches them: the order of kinds alone rejects it.
func TestReframedOrder(t *testing.T) {
	base := dumpSpec(0)
	moved := func(from, to int) []spec {
		s := append([]spec(nil), base...)
		f := s[from]
		s = append(s[:from], s[from+1:]...)
		return append(s[:to], append([]spec{f}, s[to:]...)...)
	}
	cases := []struct {
		name   string
		frames []spec
		tables []string
	}{
		{"data before its schema", moved(2, 1), []string{"a", "b"}},
		{"schema after the objects", moved(5, 8), []string{"a", "b"}},
		{"data after the objects", moved(7, 8), []string{"a", "b"}},
		{"objects before a table", moved(8, 5), []string{"a", "b"}},
		{"a second schema", append(base[:6:6], append([]spec{base[1]}, base[6:]...)...), []string{"a", "b"}},
		{"an unlisted table's schema", base[:6], []string{"a"}},
		{"an unlisted table's data", base, []string{"a"}},
		{"a listed table without schema", append(base[:5:5], base[7:]...), []string{"a", "b"}},
		{"a table listed twice", base, []string{"a", "b", "a"}},
	}
	for _, c := range []Compression{None, Gzip, Zstd} {
		for _, tc := range cases {
			t.Run(string(c)+"/"+tc.name, func(t *testing.T) {
				file, _ := build(t, c, tc.frames, tc.tables)
				mustReject(t, file)
			})
		}
	}
}

// TestSplicedDumps joins frames of two valid dumps of the same database
// with different rows: each splice is rejected.
func TestSplicedDumps(t *testing.T) {
	for _, c := range []Compression{None, Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			a, atA := build(t, c, dumpSpec(0), []string{"a", "b"})
			b, atB := build(t, c, dumpSpec(1), []string{"a", "b"})
			n := len(atA)
			frame := func(file []byte, at [][2]int, i int) []byte { return file[at[i][0]:at[i][1]] }
			t.Run("frames of A, trailer of B", func(t *testing.T) {
				mustReject(t, append(bytes.Clone(a[:atA[n-1][0]]), frame(b, atB, n-1)...))
			})
			t.Run("data frame of A in B", func(t *testing.T) {
				var out []byte
				for i := range n {
					if i == 2 {
						out = append(out, frame(a, atA, i)...)
					} else {
						out = append(out, frame(b, atB, i)...)
					}
				}
				mustReject(t, out)
			})
			t.Run("every frame of A in B", func(t *testing.T) {
				for k := range n - 1 {
					var out []byte
					for i := range n {
						src, at := b, atB
						if i == k {
							src, at = a, atA
						}
						out = append(out, frame(src, at, i)...)
					}
					if bytes.Equal(out, b) {
						continue // the frame is the same in both
					}
					if _, _, err := readAll(out); err != nil && !errors.Is(err, ErrCorrupt) {
						t.Errorf("frame %d of A in B: %v, want ErrCorrupt", k, err)
					} else if err == nil && k == 2 {
						t.Errorf("frame %d of A in B: accepted", k)
					}
				}
			})
		})
	}
}

// FuzzReader feeds the reader damaged dumps of every compression: it
// never panics, and refuses what it refuses with ErrCorrupt or ErrNotDump.
func FuzzReader(f *testing.F) {
	t := &testing.T{}
	for _, c := range []Compression{None, Gzip, Zstd} {
		file, at := build(t, c, dumpSpec(0), []string{"a", "b"})
		f.Add(file)
		f.Add(rawOrder(file, at, []int{0, 2, 1, 3, 4, 5, 6, 7, 8, 9}))
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		_, _, err := readAll(file)
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotDump) {
			t.Fatalf("read: %v, want ErrCorrupt or ErrNotDump", err)
		}
	})
}
