// Package format renders report numbers as text: exact decimal rounding
// with thousands separators, for writers that draw numbers themselves
// (the PDF; the workbook leaves this to Excel's number formats). It works
// on append-style byte slices and allocates nothing for numbers of up to
// 64 digits.
package format

import (
	"math"
	"strconv"
	"strings"

	"lms-backup/report/model"
)

// AppendValue appends v as a report shows a value of kind k: money and
// integers rounded to decimals (0 for integers) with thousands
// separators, percent as v.Num*100 rounded with a "%" sign, and the text
// as given for every other kind. Null appends nothing.
func AppendValue(b []byte, k model.Kind, decimals int, v model.Value) []byte {
	if v.Null {
		return b
	}
	switch k {
	case model.KindMoney:
		return AppendMoney(b, v, decimals)
	case model.KindInteger:
		return appendInteger(b, v)
	case model.KindPercent:
		return appendPercent(b, v, decimals)
	default: // text, date, datetime: the text as given
		return append(b, v.Text...)
	}
}

// AppendMoney appends the exact decimal text of a money value rounded to
// decimals places; only when the text is missing is the float used (its
// shortest representation). Text that is not a decimal number is
// appended as it is.
func AppendMoney(b []byte, v model.Value, decimals int) []byte {
	t := v.Text
	if t == "" {
		t = strconv.FormatFloat(v.Num, 'f', -1, 64)
	}
	out, ok := AppendDecimal(b, t, max(decimals, 0))
	if !ok {
		return append(b, v.Text...)
	}
	return out
}

// appendInteger appends an integer with thousands separators, from its
// text or, when that is missing, from the float rounded.
func appendInteger(b []byte, v model.Value) []byte {
	t := v.Text
	if t == "" {
		t = strconv.FormatInt(int64(math.Round(v.Num)), 10)
	}
	out, ok := AppendDecimal(b, t, 0)
	if !ok {
		return append(b, v.Text...)
	}
	return out
}

// appendPercent appends the fraction v.Num as a percentage: the shortest
// text of the float times 100, then decimal rounding (0.0425 is 4.3% with
// one decimal).
func appendPercent(b []byte, v model.Value, decimals int) []byte {
	dec := max(decimals, 0)
	out, ok := AppendDecimal(b, strconv.FormatFloat(v.Num*100, 'f', -1, 64), dec)
	if !ok {
		out = strconv.AppendFloat(b, v.Num*100, 'f', dec, 64) // NaN, ±Inf
	}
	return append(out, '%')
}

// AppendDecimal appends the decimal number s (optional sign, digits,
// optional fraction) rounded half away from zero to decimals (>= 0)
// places, with thousands separators. It reports false, and returns b
// unchanged, if s is not such a number. Negative zero prints as zero.
func AppendDecimal(b []byte, s string, decimals int) ([]byte, bool) {
	neg, ip, fp, ok := splitDecimal(s)
	if !ok {
		return b, false
	}
	var dbuf [64]byte
	digits := roundDigits(dbuf[:0], ip, fp, decimals)
	if neg && !allZero(digits) {
		b = append(b, '-')
	}
	b = appendGrouped(b, trimLeadingZeros(digits[:len(digits)-decimals]))
	if decimals > 0 {
		b = append(b, '.')
		b = append(b, digits[len(digits)-decimals:]...)
	}
	return b, true
}

// splitDecimal splits s into its sign and its integer and fraction
// digits; ok is false unless s is [+-]digits[.digits] with at least one
// digit.
func splitDecimal(s string) (neg bool, ip, fp string, ok bool) {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	ip, fp, _ = strings.Cut(s, ".")
	if ip == "" && fp == "" || !allDigits(ip) || !allDigits(fp) {
		return false, "", "", false
	}
	return neg, ip, fp, true
}

// roundDigits appends to dst the integer digits ip followed by exactly
// decimals fraction digits of fp, rounded half up (a carry out of the
// first digit adds a leading '1').
func roundDigits(dst []byte, ip, fp string, decimals int) []byte {
	digits := append(dst, ip...)
	if len(fp) <= decimals {
		digits = append(digits, fp...)
		for n := len(fp); n < decimals; n++ {
			digits = append(digits, '0')
		}
		return digits
	}
	digits = append(digits, fp[:decimals]...)
	if fp[decimals] < '5' {
		return digits
	}
	i := len(digits) - 1
	for ; i >= 0 && digits[i] == '9'; i-- {
		digits[i] = '0'
	}
	if i < 0 {
		return append([]byte{'1'}, digits...)
	}
	digits[i]++
	return digits
}

// trimLeadingZeros drops leading zeros, keeping one digit ("0" for none).
func trimLeadingZeros(d []byte) []byte {
	for len(d) > 1 && d[0] == '0' {
		d = d[1:]
	}
	if len(d) == 0 {
		return []byte{'0'}
	}
	return d
}

// appendGrouped appends the digits d with a comma before every group of
// three from the right.
func appendGrouped(b, d []byte) []byte {
	for i, c := range d {
		if i > 0 && (len(d)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	return b
}

func allZero(d []byte) bool {
	for _, c := range d {
		if c != '0' {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
