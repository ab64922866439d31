package memcap

import (
	"errors"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int64
	}{
		{name: "plain bytes", in: "2048", want: 2048},
		{name: "zero", in: "0", want: 0},
		{name: "bytes unit", in: "512B", want: 512},
		{name: "KiB", in: "512KiB", want: 512 << 10},
		{name: "KB is binary", in: "512KB", want: 512 << 10},
		{name: "K", in: "4K", want: 4 << 10},
		{name: "MiB as GOMEMLIMIT", in: "64MiB", want: 64 << 20},
		{name: "MB", in: "64MB", want: 64 << 20},
		{name: "M", in: "64M", want: 64 << 20},
		{name: "GiB", in: "1GiB", want: 1 << 30},
		{name: "G", in: "1G", want: 1 << 30},
		{name: "GB", in: "2GB", want: 2 << 30},
		{name: "TiB", in: "1TiB", want: 1 << 40},
		{name: "fraction", in: "1.5GiB", want: 3 << 29},
		{name: "fraction rounds down", in: "0.3KiB", want: 307},
		{name: "lower case", in: "64mib", want: 64 << 20},
		{name: "space before unit", in: "64 MiB", want: 64 << 20},
		{name: "surrounding space", in: "  8MiB\n", want: 8 << 20},
		{name: "largest", in: "9223372036854775807", want: 1<<63 - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if err != nil {
				t.Fatalf("ParseSize(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseSizeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		msg  string
	}{
		{name: "unknown unit", in: "12XB", msg: `size "12XB": unknown unit "XB" (use B, KiB, MiB or GiB)`},
		{name: "bits are not bytes", in: "12Mbit", msg: `size "12Mbit": unknown unit "Mbit" (use B, KiB, MiB or GiB)`},
		{name: "empty", in: "", msg: `size "": empty (use e.g. 512MiB)`},
		{name: "blank", in: "  ", msg: `size "  ": empty (use e.g. 512MiB)`},
		{name: "negative", in: "-5MiB", msg: `size "-5MiB": negative`},
		{name: "unit only", in: "MiB", msg: `size "MiB": no number before the unit (use e.g. 512MiB)`},
		{name: "two dots", in: "1.2.3GiB", msg: `size "1.2.3GiB": malformed number "1.2.3" (use e.g. 1.5GiB)`},
		{name: "trailing dot", in: "1.GiB", msg: `size "1.GiB": malformed number "1." (use e.g. 1.5GiB)`},
		{name: "fractional bytes", in: "1.5", msg: `size "1.5": a byte count must be whole (use a unit, e.g. 1.5KiB)`},
		{name: "overflow", in: "9223372036854775808", msg: `size "9223372036854775808": too large (over 8EiB)`},
		{name: "overflow with unit", in: "8388608TiB", msg: `size "8388608TiB": too large (over 8EiB)`},
		{name: "fraction overflow", in: "8388608.5TiB", msg: `size "8388608.5TiB": too large (over 8EiB)`},
		{name: "exponent", in: "1e9", msg: `size "1e9": unknown unit "e9" (use B, KiB, MiB or GiB)`},
		{name: "hex", in: "0x10", msg: `size "0x10": unknown unit "x10" (use B, KiB, MiB or GiB)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSize(tt.in)
			if err == nil {
				t.Fatalf("ParseSize(%q) succeeded, want an error", tt.in)
			}
			if !errors.Is(err, ErrSize) {
				t.Errorf("error %v does not wrap ErrSize", err)
			}
			if err.Error() != tt.msg {
				t.Errorf("error:\n got %s\nwant %s", err, tt.msg)
			}
		})
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"64MiB", "1.5GiB", "2048", "12XB", "", "1G", "0.3KiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if !errors.Is(err, ErrSize) {
				t.Fatalf("ParseSize(%q): %v does not wrap ErrSize", s, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d, negative", s, n)
		}
	})
}
