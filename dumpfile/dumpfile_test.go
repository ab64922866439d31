package dumpfile

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// sample writes a small dump with two tables and returns the file bytes and
// the uncompressed text.
func sample(t *testing.T, c Compression) (file, text []byte) {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, c)
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	write := func(content string, info FrameInfo) {
		t.Helper()
		buf := []byte(content)
		if err := w.WriteFrame(&buf, info); err != nil {
			t.Fatal(err)
		}
		plain.Write(buf)
	}
	hdr := string(AppendHeaderLine(nil, Header{Tool: "test", Database: "src", Started: time.Unix(0, 0).UTC()}))
	write(hdr+"SET NAMES utf8mb4;\n", FrameInfo{Kind: KindHeader})
	write("CREATE TABLE `a` (x int);\n", FrameInfo{Kind: KindSchema, Table: "a"})
	write("INSERT INTO `a` (`x`) VALUES (1),(2);\n", FrameInfo{Kind: KindData, Table: "a", Part: 1, Rows: 2})
	write("INSERT INTO `a` (`x`) VALUES (3);\n-- lms-backup frame {\"kind\":\"data\"}\n", FrameInfo{Kind: KindData, Table: "a", Part: 2, Rows: 1})
	write("CREATE TABLE `b` (y text);\n", FrameInfo{Kind: KindSchema, Table: "b"})
	tr := Trailer{Frames: 5, Tables: []TableSummary{{Name: "a", Rows: 3, DataFrames: 2}, {Name: "b"}}}
	write("SET NAMES DEFAULT;\n"+string(w.AppendTrailer(nil, &tr)), FrameInfo{Kind: KindTrailer})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), plain.Bytes()
}

func readAll(file []byte) ([]*Frame, *Reader, error) {
	r, err := NewReader(bytes.NewReader(file))
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	var frames []*Frame
	for {
		f, err := r.Next()
		if err == io.EOF {
			return frames, r, nil
		}
		if err != nil {
			return frames, r, err
		}
		c := *f
		c.Data = append([]byte(nil), f.Data...)
		frames = append(frames, &c)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []Compression{None, Gzip, Zstd} {
		t.Run(string(c), func(t *testing.T) {
			file, text := sample(t, c)
			frames, r, err := readAll(file)
			if err != nil {
				t.Fatal(err)
			}
			if r.Compression() != c {
				t.Errorf("detected %s", r.Compression())
			}
			if len(frames) != 6 {
				t.Fatalf("%d frames, want 6", len(frames))
			}
			if r.Header().Database != "src" || r.Trailer().Tables[0].Rows != 3 {
				t.Errorf("header %+v trailer %+v", r.Header(), r.Trailer())
			}
			if got := string(frames[3].Data); !strings.HasSuffix(got, "-- lms-backup frame {\"kind\":\"data\"}\n") {
				t.Errorf("a marker-like line inside a frame was taken for a marker: %q", got)
			}
			var joined int64
			for _, f := range frames {
				if f.Offset != joined {
					t.Errorf("frame %d offset %d, want %d", f.Index, f.Offset, joined)
				}
				joined += int64(len(f.Data)) + int64(bytes.IndexByte(text[joined+int64(len(f.Data)):], '\n')) + 1
			}
		})
	}
}

func TestStockToolsReadTheStream(t *testing.T) {
	tools := map[Compression][]string{Zstd: {"zstd", "-dc"}, Gzip: {"gzip", "-dc"}}
	for c, argv := range tools {
		t.Run(string(c), func(t *testing.T) {
			file, text := sample(t, c)
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Stdin = bytes.NewReader(file)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v", argv[0], err)
			}
			if !bytes.Equal(out, text) {
				t.Errorf("%s output differs from the written text", argv[0])
			}
		})
	}
}

func TestDamage(t *testing.T) {
	for _, c := range []Compression{None, Gzip, Zstd} {
		file, _ := sample(t, c)
		t.Run(string(c)+"/every truncation", func(t *testing.T) {
			for n := 0; n < len(file); n++ {
				_, _, err := readAll(file[:n])
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotDump) {
					t.Fatalf("cut at %d of %d: err %v, want ErrCorrupt or ErrNotDump", n, len(file), err)
				}
			}
		})
		t.Run(string(c)+"/every flipped byte", func(t *testing.T) {
			want, _, err := readAll(file)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(file); i++ {
				bad := append([]byte(nil), file...)
				bad[i] ^= 0x20
				got, _, err := readAll(bad)
				if err != nil {
					continue
				}
				// A flip the reader accepts must not change what it returns
				// (a gzip timestamp, a zstd window bit, a JSON key's case).
				for j := range want {
					if j >= len(got) || !bytes.Equal(got[j].Data, want[j].Data) || got[j].Info != want[j].Info {
						t.Fatalf("byte %d flipped: accepted with different content", i)
					}
				}
			}
		})
		t.Run(string(c)+"/data after the trailer", func(t *testing.T) {
			_, _, err := readAll(append(append([]byte(nil), file...), file...))
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestNotADump(t *testing.T) {
	for name, in := range map[string]string{
		"empty":      "",
		"mysqldump":  "-- MariaDB dump 10.19\n",
		"binary":     "\x00\x01\x02\x03garbage",
		"other text": "hello",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader(in))
			if !errors.Is(err, ErrNotDump) {
				t.Fatalf("err %v, want ErrNotDump", err)
			}
		})
	}
}

func TestCompressionFor(t *testing.T) {
	tests := []struct {
		path string
		want Compression
		ok   bool
	}{
		{"x.sql.zst", Zstd, true},
		{"x.sql.gz", Gzip, true},
		{"x.sql", None, true},
		{"x.dump", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := CompressionFor(tt.path)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %q %v, want %q %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
