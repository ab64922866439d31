package report

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"strconv"
	"testing"
)

// TestSpoolRoundTrip appends rows while another goroutine reads them: the
// reader gets every row back in order, NULL apart from the empty value,
// values longer than a chunk whole, and io.EOF at the end.
func TestSpoolRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rows [][]sql.RawBytes
	}{
		{name: "no rows"},
		{name: "null and empty", rows: [][]sql.RawBytes{{nil, {}}, {[]byte("a"), nil}}},
		{name: "many small", rows: func() (r [][]sql.RawBytes) {
			for i := range 100_000 {
				r = append(r, []sql.RawBytes{[]byte(strconv.Itoa(i)), []byte("borrower " + strconv.Itoa(i%97))})
			}
			return r
		}()},
		{name: "longer than a chunk", rows: [][]sql.RawBytes{{bytes.Repeat([]byte("x"), 3*spoolChunk+5), []byte("y")}, {nil, []byte("z")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cols := 2
			sp, err := newSpool(t.TempDir(), cols)
			if err != nil {
				t.Fatal(err)
			}
			defer sp.close()
			go func() {
				for _, r := range tt.rows {
					if err := sp.add(r); err != nil {
						sp.finish(err)
						return
					}
				}
				sp.finish(nil)
			}()
			for i := 0; ; i++ {
				got, err := sp.next(context.Background())
				if err == io.EOF {
					if i != len(tt.rows) {
						t.Fatalf("io.EOF after %d rows, want %d", i, len(tt.rows))
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if i >= len(tt.rows) {
					t.Fatalf("more than %d rows", len(tt.rows))
				}
				for j := range cols {
					want := tt.rows[i][j]
					if (got[j] == nil) != (want == nil) || !bytes.Equal(got[j], want) {
						t.Fatalf("row %d column %d: %q (nil %v), want %q (nil %v)", i, j, abbrev(got[j]), got[j] == nil, abbrev(want), want == nil)
					}
				}
			}
		})
	}
}

func abbrev(b []byte) string {
	if len(b) > 20 {
		return string(b[:20]) + "..."
	}
	return string(b)
}

// TestSpoolError: rows that stop early end the reader with the
// appending side's error (the run fails: the rows before it do not matter).
func TestSpoolError(t *testing.T) {
	sp, err := newSpool(t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	boom := errors.New("boom")
	sp.add([]sql.RawBytes{[]byte("1")})
	sp.flush()
	sp.finish(boom)
	if _, err := sp.next(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("next: %v, want boom", err)
	}
}
