package dump

import (
	"math"
	"strconv"
	"testing"
)

// TestDenseChunks checks the arithmetic cut of an integer key range:
// consecutive, non-overlapping chunks (after_i+1 = through_i), open at both
// ends, each at most rows values wide, also at the ends of the int64 range.
func TestDenseChunks(t *testing.T) {
	tests := []struct {
		name   string
		lo, hi int64
		rows   int
		want   []string // the through bounds, "" for the open last chunk
	}{
		{name: "exact multiple", lo: 1, hi: 9, rows: 3, want: []string{"3", "6", ""}},
		{name: "remainder", lo: 1, hi: 10, rows: 3, want: []string{"3", "6", "9", ""}},
		{name: "narrower than a chunk", lo: 5, hi: 6, rows: 3, want: []string{""}},
		{name: "negative", lo: -5, hi: 4, rows: 4, want: []string{"-2", "2", ""}},
		{name: "int64 minimum", lo: math.MinInt64, hi: math.MinInt64 + 5, rows: 3,
			want: []string{strconv.FormatInt(math.MinInt64+2, 10), ""}},
		{name: "int64 maximum", lo: math.MaxInt64 - 5, hi: math.MaxInt64, rows: 3,
			want: []string{strconv.FormatInt(math.MaxInt64-3, 10), ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			var prev []byte
			err := denseChunks(&table{Name: "t"}, tt.lo, tt.hi, tt.rows, func(c chunk) error {
				if (prev == nil) != (c.after == nil) || (prev != nil && string(c.after[0]) != string(prev)) {
					t.Errorf("chunk after %q does not start where the last ended (%q)", c.after, prev)
				}
				if c.through == nil {
					got = append(got, "")
					return nil
				}
				prev = c.through[0]
				got = append(got, string(prev))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("throughs %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("throughs %q, want %q", got, tt.want)
				}
			}
		})
	}
}

// TestDenseChunksHugeRange: a range wider than int64 (MinInt64..MaxInt64)
// is cut without overflow and ends with an open chunk.
func TestDenseChunksHugeRange(t *testing.T) {
	n := 0
	var last chunk
	err := denseChunks(&table{Name: "t"}, math.MinInt64, math.MaxInt64, 1<<62, func(c chunk) error {
		n++
		last = c
		return nil
	})
	if err != nil || n != 4 || last.through != nil {
		t.Fatalf("%d chunks, last %+v, err %v; want 4 ending open", n, last, err)
	}
}
