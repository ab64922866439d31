package e2e

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lms-backup/dumpfile"
	"lms-backup/internal/testdb"
)

// framed re-writes the dump at path frame by frame (with valid checksums
// and a trailer whose index matches) and returns the file, each frame's
// [start, end) in it and each frame's marker.
func framed(t *testing.T, path string) ([]byte, [][2]int, []dumpfile.FrameInfo) {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	rd, err := dumpfile.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var out bytes.Buffer
	fw, err := dumpfile.NewWriter(&out, rd.Compression())
	if err != nil {
		t.Fatal(err)
	}
	var at [][2]int
	var infos []dumpfile.FrameInfo
	for {
		f, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data := bytes.Clone(f.Data)
		if f.Info.Kind == dumpfile.KindTrailer {
			tr := *rd.Trailer()
			data = fw.AppendTrailer(data[:bytes.Index(data, []byte("-- lms-backup trailer "))], &tr)
		}
		info := f.Info
		info.Bytes, info.CRC = 0, ""
		start := out.Len()
		if err := fw.WriteFrame(&data, info); err != nil {
			t.Fatal(err)
		}
		at = append(at, [2]int{start, out.Len()})
		infos = append(infos, info)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), at, infos
}

// find returns the position of the first frame of kind k (of table, when
// given; part 1 for data).
func find(t *testing.T, infos []dumpfile.FrameInfo, k dumpfile.Kind, table string, part int) int {
	t.Helper()
	for i, f := range infos {
		if f.Kind == k && (table == "" || f.Table == table) && f.Part == part {
			return i
		}
	}
	t.Fatalf("no %s frame of %q part %d", k, table, part)
	return 0
}

// TestReorderedFramesRefused: frames swapped, moved or spliced from another
// dump of the same database are refused by verify with exit 4, and no
// restore mode reports success: the staged one leaves the target as it
// was, --in-place --force fails and says the target may hold part of the
// dump.
func TestReorderedFramesRefused(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "struct_src")
	srv.Exec(t, src,
		"CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO a SELECT seq, CONCAT('row ', seq) FROM seq_1_to_300",
		"CREATE TABLE b (id INT PRIMARY KEY)", "INSERT INTO b SELECT seq FROM seq_1_to_200",
		"CREATE VIEW v AS SELECT id FROM a")
	dir := t.TempDir()
	dumpTo := func(name string) string {
		p := filepath.Join(dir, name)
		mustRun(t, append([]string{"--quiet", "dump", "-D", src, "-o", p, "--threads", "1"}, connArgs(srv)...)...)
		return p
	}
	exts := []string{".sql.zst", ".sql.gz", ".sql"}
	var pathsA, pathsB []string
	for _, ext := range exts {
		pathsA = append(pathsA, dumpTo("a"+ext))
	}
	srv.Exec(t, src, "DELETE FROM a WHERE id > 250")
	for _, ext := range exts {
		pathsB = append(pathsB, dumpTo("b"+ext))
	}
	dst := srv.CreateDB(t, "struct_dst")
	for i, ext := range exts {
		t.Run(ext, func(t *testing.T) { refuseReordered(t, srv, dst, ext, pathsA[i], pathsB[i]) })
	}
}

// refuseReordered runs TestReorderedFramesRefused's cases on two dumps of
// one database, taken before and after rows were deleted.
func refuseReordered(t *testing.T, srv *testdb.Server, dst, ext, pathA, pathB string) {
	dir := t.TempDir()
	a, atA, infos := framed(t, pathA)
	b, atB, infosB := framed(t, pathB)
	if len(infos) != len(infosB) {
		t.Fatalf("the two dumps have %d and %d frames", len(infos), len(infosB))
	}
	frame := func(file []byte, at [][2]int, i int) []byte { return file[at[i][0]:at[i][1]] }
	order := func(file []byte, at [][2]int, idx []int) []byte {
		var out []byte
		for _, i := range idx {
			out = append(out, frame(file, at, i)...)
		}
		return out
	}
	ident := func() []int {
		idx := make([]int, len(atA))
		for i := range idx {
			idx[i] = i
		}
		return idx
	}
	swap := func(i, j int) []byte {
		idx := ident()
		idx[i], idx[j] = j, i
		return order(a, atA, idx)
	}
	move := func(from, to int) []byte {
		idx := ident()
		f := idx[from]
		idx = append(idx[:from], idx[from+1:]...)
		idx = append(idx[:to], append([]int{f}, idx[to:]...)...)
		return order(a, atA, idx)
	}
	n := len(atA)
	schemaA, dataA1 := find(t, infos, dumpfile.KindSchema, "a", 0), find(t, infos, dumpfile.KindData, "a", 1)
	dataB1, objects := find(t, infos, dumpfile.KindData, "b", 1), find(t, infos, dumpfile.KindObjects, "", 0)
	// A data frame of A whose rows differ from those of B's frame in its
	// place (one connection writes the frames of both in one order).
	spliced := -1
	for i := range infos {
		if infos[i].Kind == dumpfile.KindData && infosB[i].Kind == dumpfile.KindData && infos[i].Rows != infosB[i].Rows {
			spliced = i
		}
	}
	if spliced < 0 {
		t.Fatalf("no data frame of A to splice into B: %+v, %+v", infos, infosB)
	}

	cases := []struct {
		name string
		file []byte
	}{
		{"a table's definition and first rows swapped", swap(min(schemaA, dataA1), max(schemaA, dataA1))},
		{"rows of two tables swapped", swap(min(dataA1, dataB1), max(dataA1, dataB1))},
		{"the objects moved before the tables", move(objects, 1)},
		{"a table's rows moved after the objects", move(dataA1, objects)},
		{"frames of one dump with the trailer of another", append(bytes.Clone(a[:atA[n-1][0]]), frame(b, atB, n-1)...)},
		{"rows of one dump in another", func() []byte {
			var out []byte
			for i := range n {
				if i == spliced {
					out = append(out, frame(a, atA, i)...)
				} else {
					out = append(out, frame(b, atB, i)...)
				}
			}
			return out
		}()},
	}
	// The re-framing alone keeps a good dump good.
	good := filepath.Join(dir, "good"+ext)
	if err := os.WriteFile(good, a, 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "verify", good)
	mustRun(t, append(append([]string{"--quiet", "restore", "-D", dst, "--force"}, connArgs(srv)...), good)...)
	target := srv.Open(t, dst)
	count := func() int {
		var n int
		if err := target.QueryRow("SELECT COUNT(*) FROM a").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "bad"+ext)
			if err := os.WriteFile(bad, tc.file, 0o600); err != nil {
				t.Fatal(err)
			}
			if r := run(t, nil, nil, "verify", bad); r.code != 4 {
				t.Errorf("verify: exit %d, want 4: %s", r.code, r.stderr)
			}
			r := run(t, nil, nil, append(append([]string{"--quiet", "restore", "-D", dst, "--force"}, connArgs(srv)...), bad)...)
			// Exit 4 when the reader finds the damage first, 6 when a
			// statement of a spliced frame fails before the trailer.
			if r.code != 4 && r.code != 6 {
				t.Errorf("staged restore: exit %d, want 4 or 6: %s", r.code, r.stderr)
			}
			if got := count(); got != 300 {
				t.Errorf("the staged restore changed the target: %d rows in a, want 300", got)
			}
			r = run(t, nil, nil, append(append([]string{"--quiet", "restore", "-D", dst, "--in-place", "--force"}, connArgs(srv)...), bad)...)
			if r.code != 4 && r.code != 6 || !strings.Contains(r.stderr, "may hold part of the dump") {
				t.Errorf("restore --in-place --force: exit %d, want 4 or 6 saying the target may hold part of the dump: %s", r.code, r.stderr)
			}
			// Put the target back for the next case.
			mustRun(t, append(append([]string{"--quiet", "restore", "-D", dst, "--in-place", "--force"}, connArgs(srv)...), good)...)
		})
	}
}
