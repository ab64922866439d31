package dump

import (
	"math"
	"strconv"
	"strings"

	"lms-backup/internal/sqlident"
)

// Kind is how the values of a column are read and written as SQL literals.
type Kind uint8

const (
	// KindNumber: integers, DECIMAL and DOUBLE. The text the server (or the
	// driver, for integers and doubles) gives is exact; written unquoted.
	KindNumber Kind = iota
	// KindFloat: FLOAT. Selected as DOUBLE (the server's FLOAT text has only
	// 6 significant digits) and written as the shortest text that restores
	// the same 32-bit value.
	KindFloat
	// KindText: UTF-8 text, temporal values, ENUM/SET, JSON. Quoted, escaped.
	KindText
	// KindBinary: BINARY, VARBINARY, BLOBs, BIT and spatial values. Hex literal.
	KindBinary
	// KindCharsetText: text in a charset whose conversion to UTF-8 can lose
	// bytes (cp1251, sjis, ...). Selected as its raw bytes and written as
	// _charset 0x..., so no conversion can change it.
	KindCharsetText
)

// Column is one column of a table as the dump reads and writes it.
type Column struct {
	Name     string
	DataType string // information_schema DATA_TYPE, lower case
	Charset  string // CHARACTER_SET_NAME, "" for non-text columns
	Kind     Kind
	// Ordinal: an ENUM with '' among its members, read and written as
	// its member number (Kind is KindNumber), so that the error value
	// (0) and the member '' both come back as they were.
	Ordinal bool
}

// kindOf maps an information_schema DATA_TYPE and charset to a Kind.
func kindOf(dataType, charset string) Kind {
	switch strings.ToLower(dataType) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint",
		"decimal", "numeric", "double", "double precision", "real", "year":
		return KindNumber
	case "float":
		return KindFloat
	case "bit", "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
		"geometry", "point", "linestring", "polygon", "multipoint",
		"multilinestring", "multipolygon", "geometrycollection", "geomcollection":
		return KindBinary
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json":
		switch strings.ToLower(charset) {
		// latin1 converts to UTF-8 and back without loss on MariaDB and
		// MySQL (it maps all 256 bytes, the five cp1252 holes to U+0081
		// etc.), so it takes the compact text path. ascii does not: a
		// column can hold bytes >= 0x80 that come back as '?'.
		case "", "utf8mb4", "utf8mb3", "utf8", "latin1":
			return KindText
		case "binary":
			return KindBinary
		}
		return KindCharsetText
	}
	// DATE, TIME, DATETIME, TIMESTAMP, INET4, INET6, UUID and types this
	// version does not know: the server's text form, quoted.
	return KindText
}

// selectExpr returns the SELECT expression that reads column c.
func selectExpr(c *Column) string {
	id := string(AppendIdent(nil, c.Name))
	if c.Ordinal {
		return id + "+0"
	}
	switch c.Kind {
	case KindFloat:
		return "CAST(" + id + " AS DOUBLE)"
	case KindCharsetText:
		return "CAST(" + id + " AS BINARY)"
	}
	return id
}

// AppendIdent appends name as a backtick-quoted identifier, doubling any
// backtick inside.
func AppendIdent(buf []byte, name string) []byte { return sqlident.Append(buf, name) }

// AppendString appends s as a single-quoted string literal for a session
// without NO_BACKSLASH_ESCAPES (see sqlident.AppendString).
func AppendString(buf []byte, s []byte) []byte { return sqlident.AppendString(buf, s) }

const hexDigits = "0123456789ABCDEF"

// AppendHex appends b as a hex literal (0x...), or ” when b is empty.
func AppendHex(buf []byte, b []byte) []byte {
	if len(b) == 0 {
		return append(buf, '\'', '\'')
	}
	buf = append(buf, '0', 'x')
	for _, c := range b {
		buf = append(buf, hexDigits[c>>4], hexDigits[c&0x0f])
	}
	return buf
}

// AppendValue appends the literal for one value of column c. v is the value
// as selected by selectExpr; null reports SQL NULL.
func AppendValue(buf []byte, c *Column, v []byte, null bool) []byte {
	if null {
		return append(buf, "NULL"...)
	}
	switch c.Kind {
	case KindNumber:
		return append(buf, v...)
	case KindFloat:
		return appendFloat32(buf, v)
	case KindBinary:
		return AppendHex(buf, v)
	case KindCharsetText:
		if len(v) == 0 {
			return append(buf, '\'', '\'')
		}
		buf = append(buf, '_')
		buf = append(buf, c.Charset...)
		buf = append(buf, ' ')
		return AppendHex(buf, v)
	}
	return AppendString(buf, v)
}

// appendFloat32 writes the FLOAT value whose exact double text is v. The
// server parses a literal as a double and then rounds it to float, so the
// shortest float32 text is used only when that path gives the same value
// back; otherwise the exact double text is (never a 6-digit rounding).
func appendFloat32(buf []byte, v []byte) []byte {
	d, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return append(buf, v...)
	}
	f := float32(d)
	if float64(f) != d {
		return append(buf, v...) // not a float value: keep the text
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, float64(f), 'g', -1, 32)
	// The short text must also stay within FLOAT's range as a double: the
	// shortest text of the largest float ("3.4028235e+38") is above it and
	// a strict sql_mode rejects it instead of rounding down.
	if back, err := strconv.ParseFloat(string(buf[start:]), 64); err != nil || float32(back) != f || math.Abs(back) > math.MaxFloat32 {
		buf = append(buf[:start], v...)
	}
	return buf
}
