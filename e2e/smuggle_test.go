package e2e

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lms-backup/dumpfile"
	"lms-backup/internal/testdb"
)

// reframe rewrites the dump at path with edit applied to every frame's
// text (a nil result drops the frame), recomputing markers, checksums and the trailer's index, as an
// attacker who can write the file would. It returns the new file's path.
func reframe(t *testing.T, path string, edit func(info dumpfile.FrameInfo, data []byte) []byte) string {
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
	var out bytes.Buffer
	fw, err := dumpfile.NewWriter(&out, rd.Compression())
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data := edit(f.Info, slices.Clone(f.Data))
		if data == nil {
			continue // edit dropped the frame
		}
		info := f.Info
		info.Bytes, info.CRC = 0, ""
		if info.Kind == dumpfile.KindTrailer {
			tr := *rd.Trailer()
			// The trailer's own line is part of its data: cut it and
			// write it again from the new index.
			i := bytes.Index(data, []byte("-- lms-backup trailer "))
			data = fw.AppendTrailer(data[:i], &tr)
		}
		if err := fw.WriteFrame(&data, info); err != nil {
			t.Fatal(err)
		}
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "reframed"+filepath.Ext(path))
	if err := os.WriteFile(p, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSmuggledStatements: a dump whose frames hold a statement of a kind
// their frame may not hold (here a CREATE DATABASE, a DROP of another
// table, an INSERT into another table), with every checksum made good
// again, is refused by verify and by every restore mode with exit 4
// before the statement runs.
func TestSmuggledStatements(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "smuggle_src")
	srv.Exec(t, src,
		"CREATE TABLE a (id INT PRIMARY KEY)", "INSERT INTO a VALUES (1), (2)",
		"CREATE TABLE b (id INT PRIMARY KEY)", "INSERT INTO b VALUES (3)",
		"CREATE VIEW v AS SELECT id FROM a")
	good := filepath.Join(t.TempDir(), "good.sql.zst")
	mustRun(t, append([]string{"--quiet", "dump", "-D", src, "-o", good}, connArgs(srv)...)...)
	// The re-framing alone keeps a good dump good.
	mustRun(t, "verify", reframe(t, good, func(_ dumpfile.FrameInfo, d []byte) []byte { return d }))

	for _, tc := range []struct {
		name string
		kind dumpfile.Kind
		add  string
	}{
		{"CREATE DATABASE in the objects frame", dumpfile.KindObjects, "CREATE DATABASE lms_smuggled;\n"},
		{"CREATE DATABASE in a schema frame", dumpfile.KindSchema, "CREATE DATABASE lms_smuggled;\n"},
		{"DROP of another table in a schema frame", dumpfile.KindSchema, "DROP TABLE IF EXISTS `other`;\n"},
		{"INSERT into another table in a data frame", dumpfile.KindData, "INSERT INTO `zzz` (`id`) VALUES (9);\n"},
		{"GRANT in the header", dumpfile.KindHeader, "GRANT ALL ON *.* TO 'x'@'%' IDENTIFIED BY 'x';\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := reframe(t, good, func(info dumpfile.FrameInfo, d []byte) []byte {
				if info.Kind != tc.kind || (info.Table != "" && info.Table != "a") {
					return d
				}
				return append(d, tc.add...)
			})
			r := run(t, nil, nil, "verify", bad)
			if r.code != 4 {
				t.Errorf("verify: exit %d, want 4: %s", r.code, r.stderr)
			}
			for _, mode := range [][]string{nil, {"--in-place"}} {
				dst := srv.CreateDB(t, "smuggle_dst")
				args := append(append(append([]string{"--quiet", "restore", "-D", dst}, mode...), connArgs(srv)...), bad)
				if r := run(t, nil, nil, args...); r.code != 4 {
					t.Errorf("restore %v: exit %d, want 4: %s", mode, r.code, r.stderr)
				}
			}
			for _, n := range queryStrings(t, srv.Open(t, ""), "SHOW DATABASES") {
				if strings.Contains(fromHex(t, n), "smuggled") {
					t.Fatal("the smuggled CREATE DATABASE ran")
				}
			}
		})
	}
}
