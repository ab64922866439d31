package xlsx

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
)

// A data row through excelize's StreamWriter.SetRow costs a boxed value,
// a cell name string, an xlsxC and a few strings per cell: at fixture scale
// 100 (350,000 rows) it was 0.9 s of the report's 3.6 s of client CPU.
// appendRow writes the same XML with append into one reused buffer and
// hands it to the stream's buffer (internals.go). It writes exactly what
// SetRow writes for the values it takes (TestFastRowIsSetRow compares the
// bytes); a row with anything else (text with leading or trailing white
// space, control characters or "_x", a date before 1900 or after 2189, a
// style 0 date) goes through SetRow.

// fastRows switches appendRow on; tests switch it off to compare.
var fastRows = true

// excelEpoch is excelize's excelMinTime1900: Excel's day 0 (its day 1
// is 1900-01-01), and the day from which it counts a 29 February 1900.
var (
	excelEpoch      = time.Date(1899, time.December, 31, 0, 0, 0, 0, time.UTC)
	excelBuggyStart = time.Date(1900, time.March, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond)
	excelMaxTime    = excelEpoch.Add(290 * 364 * 24 * time.Hour) // excelize's maxDuration
)

// appendRow appends row r's XML for cells (nil for an empty cell) to buf.
// ok is false when a value is not one appendRow writes as SetRow would;
// buf is then to be discarded.
func appendRow(buf []byte, r int, cols []string, cells []excelize.Cell, row []interface{}) (_ []byte, ok bool) {
	buf = append(buf, `<row r="`...)
	buf = strconv.AppendInt(buf, int64(r), 10)
	buf = append(buf, `">`...)
	for i, v := range row {
		if v == nil {
			continue
		}
		c := &cells[i]
		buf = append(buf, `<c r="`...)
		buf = append(buf, cols[i]...)
		buf = strconv.AppendInt(buf, int64(r), 10)
		buf = append(buf, '"')
		if c.StyleID != 0 {
			buf = append(buf, ` s="`...)
			buf = strconv.AppendInt(buf, int64(c.StyleID), 10)
			buf = append(buf, '"')
		}
		switch x := c.Value.(type) {
		case int64:
			buf = append(buf, `><v>`...)
			buf = strconv.AppendInt(buf, x, 10)
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return buf, false
			}
			buf = append(buf, `><v>`...)
			buf = strconv.AppendFloat(buf, x, 'f', -1, 64)
		case time.Time:
			days, ok := excelTime(x)
			if !ok || c.StyleID == 0 {
				return buf, false
			}
			buf = append(buf, `><v>`...)
			buf = strconv.AppendFloat(buf, days, 'f', -1, 64)
		case string:
			if !plainText(x) {
				return buf, false
			}
			buf = append(buf, ` t="inlineStr"><is><t>`...)
			buf = appendEscaped(buf, x)
			buf = append(buf, `</t></is></c>`...)
			continue
		default:
			return buf, false
		}
		buf = append(buf, `</v></c>`...)
	}
	return append(buf, `</row>`...), true
}

// excelTime is excelize's timeToExcelTime for a UTC time from 1900 to
// 2189 (one step of its loop); ok is false for any other.
func excelTime(t time.Time) (float64, bool) {
	if t.Location() != time.UTC || t.Before(excelEpoch) || !t.Before(excelMaxTime) {
		return 0, false
	}
	const day = 24 * time.Hour
	diff := t.Sub(excelEpoch)
	rem := diff % day
	days := float64(diff-rem)/float64(day) + float64(rem)/float64(day)
	if t.After(excelBuggyStart) {
		days++
	}
	return days, days > 0
}

// plainText reports whether excelize writes s as it is, but for the five
// characters xml.EscapeText escapes: valid UTF-8 of XML characters with no
// control character (no tab or newline either), no white space at either
// end (which would add xml:space), no "_x" (which its bstrMarshal may
// escape), and short enough not to be truncated.
func plainText(s string) bool {
	if len(s) > 32767 {
		return false
	}
	if s != "" && (s[0] == ' ' || s[len(s)-1] == ' ') {
		return false
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || (c == '_' && i+1 < len(s) && s[i+1] == 'x') {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r == 0xFFFE || r == 0xFFFF {
			return false
		}
		i += n
	}
	return true
}

// appendEscaped appends s escaped as xml.EscapeText escapes a plainText.
func appendEscaped(buf []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		default:
			continue
		}
		buf = append(buf, s[last:i]...)
		buf = append(buf, esc...)
		last = i + 1
	}
	return append(buf, s[last:]...)
}
