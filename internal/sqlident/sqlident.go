// Package sqlident quotes MySQL/MariaDB identifiers: every name that goes
// into SQL text (tables, columns, databases, routines) goes through it.
package sqlident

// Append appends name as a backtick-quoted identifier, doubling any
// backtick inside, so that no name can end the quoting early.
func Append(buf []byte, name string) []byte {
	buf = append(buf, '`')
	for i := 0; i < len(name); i++ {
		if name[i] == '`' {
			buf = append(buf, '`')
		}
		buf = append(buf, name[i])
	}
	return append(buf, '`')
}

// Quote returns name as a backtick-quoted identifier.
func Quote(name string) string { return string(Append(nil, name)) }
