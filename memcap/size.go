package memcap

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrSize marks a size string ParseSize cannot read. Every error ParseSize
// returns wraps it.
var ErrSize = errors.New("memcap: invalid size")

// sizeError is a one-line message that still matches ErrSize with errors.Is,
// without repeating ErrSize's text.
type sizeError struct{ msg string }

func (e *sizeError) Error() string { return e.msg }
func (e *sizeError) Unwrap() error { return ErrSize }

func sizeErrorf(format string, args ...any) error {
	return &sizeError{msg: fmt.Sprintf(format, args...)}
}

// units maps a lower-cased unit to its multiplier. K, M, G and T are powers
// of 1024 in every spelling (K, KB, KiB), as GOMEMLIMIT means them.
var units = map[string]int64{
	"":    1,
	"b":   1,
	"k":   1 << 10,
	"kb":  1 << 10,
	"kib": 1 << 10,
	"m":   1 << 20,
	"mb":  1 << 20,
	"mib": 1 << 20,
	"g":   1 << 30,
	"gb":  1 << 30,
	"gib": 1 << 30,
	"t":   1 << 40,
	"tb":  1 << 40,
	"tib": 1 << 40,
}

// ParseSize reads a byte count such as "2048", "512KiB", "64MiB", "1G" or
// "1.5GiB". The unit is one of B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB,
// case-insensitive, optionally after one space; without a unit the number
// is bytes. K, M, G and T are powers of 1024 whatever the spelling, so
// every value GOMEMLIMIT accepts parses to the same number. A fraction is
// allowed with a unit and rounds down to whole bytes. Errors are one line
// with a hint and wrap ErrSize.
func ParseSize(s string) (int64, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, sizeErrorf("size %q: empty (use e.g. 512MiB)", s)
	}
	if in[0] == '-' {
		return 0, sizeErrorf("size %q: negative", s)
	}
	i := 0
	for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
		i++
	}
	num, unit := in[:i], strings.TrimSpace(in[i:])
	if num == "" {
		return 0, sizeErrorf("size %q: no number before the unit (use e.g. 512MiB)", s)
	}
	mult, ok := units[strings.ToLower(unit)]
	if !ok {
		return 0, sizeErrorf("size %q: unknown unit %q (use B, KiB, MiB or GiB)", s, unit)
	}
	if strings.Count(num, ".") > 1 || num[0] == '.' || num[len(num)-1] == '.' {
		return 0, sizeErrorf("size %q: malformed number %q (use e.g. 1.5GiB)", s, num)
	}
	if strings.Contains(num, ".") {
		if mult == 1 {
			return 0, sizeErrorf("size %q: a byte count must be whole (use a unit, e.g. 1.5KiB)", s)
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return 0, sizeErrorf("size %q: malformed number %q (use e.g. 1.5GiB)", s, num)
		}
		f *= float64(mult)
		if f >= math.MaxInt64 {
			return 0, sizeErrorf("size %q: too large (over 8EiB)", s)
		}
		return int64(f), nil
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, sizeErrorf("size %q: too large (over 8EiB)", s)
	}
	return n * mult, nil
}
