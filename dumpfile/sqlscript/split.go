package sqlscript

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ErrSyntax is wrapped by every error Split returns for a script it cannot
// split: an unterminated quote or comment, or a bad DELIMITER command.
var ErrSyntax = errors.New("sqlscript: malformed script")

// Statement is one SQL statement of a script.
type Statement struct {
	// Text is the statement without its delimiter, without surrounding
	// whitespace and without leading or trailing comments; comments in the
	// middle stay. It aliases the script and is valid as long as the script
	// is; its capacity ends at its length, so appending to it copies.
	Text []byte
	// Offset is the byte offset of Text[0] in the script.
	Offset int
}

// maxDelimiter is the longest delimiter the mariadb client accepts (it keeps
// a char[16]).
const maxDelimiter = 15

var defaultDelimiter = []byte{';'}

// utf8BOM is the UTF-8 byte order mark, which the client skips at the start.
var utf8BOM = []byte("\xef\xbb\xbf")

// Byte classes for the scanner outside quotes and comments.
const (
	clsPlain  = iota // part of a statement, no special meaning
	clsSpace         // whitespace, as my_isspace for ASCII
	clsQuote         // ' " `
	clsHash          // # comment to end of line
	clsDash          // maybe -- comment
	clsSlash         // maybe /* comment
	clsEscape        // backslash: the next byte loses its meaning
)

var byteClass = [256]uint8{
	' ': clsSpace, '\t': clsSpace, '\n': clsSpace, '\v': clsSpace, '\f': clsSpace, '\r': clsSpace,
	'\'': clsQuote, '"': clsQuote, '`': clsQuote,
	'#': clsHash, '-': clsDash, '/': clsSlash, '\\': clsEscape,
}

// Split splits script as a Splitter starting in the zero Mode with the
// default delimiter: the state every frame of an lms-backup dump after
// its header starts in.
func Split(script []byte, fn func(Statement) error) error {
	var sp Splitter
	return sp.Split(script, fn)
}

// A Splitter splits scripts into statements and carries the client's state
// from one script to the next: the sql_mode flags that change quoting and
// the delimiter. Its zero value starts in the zero Mode with ";". A
// Splitter is not safe for concurrent use.
type Splitter struct {
	// Mode is the sql_mode under which the next statement is split. Split
	// updates it after each statement, as described at modeAfter.
	Mode Mode
	// Delimiter is the current delimiter; empty means ";".
	Delimiter string

	saved []savedMode // user variables holding a copy of the sql_mode
	// modeBefore is the mode the statement passed to fn was split under.
	modeBefore Mode
}

// Split calls fn for every statement of script, in order, as the mysql and
// mariadb command-line clients split it (client/mysql.cc, add_line):
//
//   - a statement ends at the current delimiter outside quotes and comments;
//   - '...' and "..." honour doubled quotes and, unless the Mode says
//     otherwise, backslash escapes; `...` only doubled backticks. After
//     each statement the Mode follows the SET statements that change the
//     session's sql_mode (see modeAfter), as the client follows the
//     server's status flags. Outside quotes a backslash takes the meaning
//     of the next non-space byte (so \; does not end a statement);
//   - "-- " (dashes then whitespace or the end), "#" and "/* */" are
//     comments; "--" without the space is a comment only at the start of a
//     statement; executable comments /*! */ and /*M! */ are statement text,
//     and a delimiter inside them ends the statement as it does in the client;
//   - a line starting with DELIMITER (any case, after blanks) then a blank,
//     where a statement would start, sets the delimiter to the next word of
//     the line (quotes allowed, at most 15 bytes, no backslash); the rest of
//     the line is ignored and the command is not a statement;
//   - empty statements are skipped; text after the last delimiter that is
//     not only whitespace and comments is a statement;
//   - a UTF-8 byte order mark at the start is skipped; any other byte,
//     including NUL and invalid UTF-8, is text.
//
// Client commands other than DELIMITER (\g, \c, source, use without a
// delimiter, ...) are not interpreted; lms-backup never writes them.
//
// Split stops at and returns fn's first error; sp.Mode then already holds
// the mode after the statement fn was called with. An unterminated quote or
// comment, a string that ends at another byte under another sql_mode while
// the Mode is ModeUnknown, and a DELIMITER command that is not first on
// its line or lacks a usable delimiter, return an error wrapping ErrSyntax
// that gives the byte offset where the problem starts.
// Split allocates only when it fails or when script leaves a delimiter
// other than ";" in force; fn must not modify script.
func (sp *Splitter) Split(script []byte, fn func(Statement) error) error {
	s := script
	n := len(s)
	d := defaultDelimiter
	if sp.Delimiter != "" {
		d = []byte(sp.Delimiter)
	}
	defer func() {
		if len(d) == 1 && d[0] == ';' {
			sp.Delimiter = ""
		} else if sp.Delimiter != string(d) {
			sp.Delimiter = string(d)
		}
	}()
	d0 := d[0]
	i := 0
	if bytes.HasPrefix(s, utf8BOM) {
		i = len(utf8BOM)
	}
	start, end := -1, -1 // Text is s[start:end] once start >= 0
	emit := func() error {
		st := Statement{Text: s[start:end:end], Offset: start}
		start = -1
		sp.modeBefore = sp.Mode
		sp.Mode = sp.modeAfter(st.Text)
		return fn(st)
	}
	for i < n {
		c := s[i]
		if c == d0 && (len(d) == 1 || bytes.HasPrefix(s[i:], d)) {
			if start >= 0 {
				if err := emit(); err != nil {
					return err
				}
			}
			i += len(d)
			continue
		}
		switch byteClass[c] {
		case clsSpace:
			i++
			continue
		case clsQuote:
			j, err := sp.skipString(s, i)
			if err != nil {
				return err
			}
			if start < 0 {
				start = i
			}
			i, end = j, j
			continue
		case clsHash:
			i = lineEnd(s, i)
			continue
		case clsDash:
			if i+1 < n && s[i+1] == '-' && (start < 0 || i+2 == n || byteClass[s[i+2]] == clsSpace) {
				i = lineEnd(s, i)
				continue
			}
		case clsSlash:
			if i+1 < n && s[i+1] == '*' && !executable(s[i+2:]) {
				j := bytes.Index(s[i+2:], []byte("*/"))
				if j < 0 {
					return fmt.Errorf("%w: unterminated /* comment starting at byte %d", ErrSyntax, i)
				}
				i += 2 + j + 2
				continue
			}
		case clsEscape:
			if start < 0 {
				start = i
			}
			i++
			if i < n && byteClass[s[i]] != clsSpace {
				i++
			}
			end = i
			continue
		}
		if start < 0 {
			if (c == 'd' || c == 'D') && isDelimiterCommand(s[i:]) {
				nd, next, err := parseDelimiter(s, i)
				if err != nil {
					return err
				}
				d, d0, i = nd, nd[0], next
				continue
			}
			start = i
		}
		// Run over plain bytes: numbers, keywords, commas and parentheses
		// make up most of an extended INSERT outside its strings.
		for i++; i < n; i++ {
			c = s[i]
			if byteClass[c] != clsPlain || c == d0 {
				break
			}
		}
		end = i
	}
	if start >= 0 {
		return emit()
	}
	return nil
}

// skipString returns the offset just after the quoted string or identifier
// starting at s[i], under the splitter's mode.
func (sp *Splitter) skipString(s []byte, i int) (int, error) {
	q := s[i]
	if sp.Mode&ModeUnknown == 0 || q == '`' {
		j, ok := skipQuoted(s, i, sp.Mode.escapes(q))
		if !ok {
			return 0, fmt.Errorf("%w: unterminated %c quote starting at byte %d", ErrSyntax, q, i)
		}
		return j, nil
	}
	j, ok := skipQuoted(s, i, true)
	k, ok2 := skipQuoted(s, i, false)
	if !ok || !ok2 || j != k {
		return 0, fmt.Errorf("%w: the %c string at byte %d ends at another byte with NO_BACKSLASH_ESCAPES or ANSI_QUOTES than without, and the sql_mode here is not known (set by a statement the splitter does not evaluate)", ErrSyntax, q, i)
	}
	return j, nil
}

// skipQuoted returns the offset just after the quoted string or identifier
// starting at s[i], and false if it does not end. With esc a backslash
// escapes the next byte. A doubled quote ends the string and starts
// another, which gives the same result as an escape.
func skipQuoted(s []byte, i int, esc bool) (int, bool) {
	q := s[i]
	i++
	if !esc {
		j := bytes.IndexByte(s[i:], q)
		if j < 0 {
			return 0, false
		}
		return i + j + 1, true
	}
	end := -1 // a quote byte at or after i, found once and reused so that
	// many escapes before a far quote do not make the scan quadratic
	for i < len(s) {
		if end < i {
			j := bytes.IndexByte(s[i:], q)
			if j < 0 {
				return 0, false
			}
			end = i + j
		}
		k := bytes.IndexByte(s[i:end], '\\')
		if k < 0 {
			return end + 1, true
		}
		i += k + 2
	}
	return 0, false
}

// lineEnd returns the offset of the newline ending the line that contains
// s[i], or len(s).
func lineEnd(s []byte, i int) int {
	j := bytes.IndexByte(s[i:], '\n')
	if j < 0 {
		return len(s)
	}
	return i + j
}

// executable reports whether a comment whose body starts with b is an
// executable comment: /*! or /*M!.
func executable(b []byte) bool {
	return len(b) > 0 && (b[0] == '!' || b[0] == 'M' && len(b) > 1 && b[1] == '!')
}

// isDelimiterCommand reports whether b starts with the DELIMITER command
// word: "delimiter" in any case, then a blank, a line end or nothing.
func isDelimiterCommand(b []byte) bool {
	const word = "delimiter"
	if len(b) < len(word) || !bytes.EqualFold(b[:len(word)], []byte(word)) {
		return false
	}
	return len(b) == len(word) || byteClass[b[len(word)]] == clsSpace
}

// parseDelimiter reads the DELIMITER command at s[i] and returns the new
// delimiter (aliasing s) and the offset of the end of its line.
func parseDelimiter(s []byte, i int) (delim []byte, next int, err error) {
	line := bytes.LastIndexByte(s[:i], '\n') + 1
	if line == 0 && bytes.HasPrefix(s, utf8BOM) {
		line = len(utf8BOM)
	}
	if len(bytes.Trim(s[line:i], " \t")) > 0 {
		return nil, 0, fmt.Errorf("%w: DELIMITER not at the start of a line at byte %d (the mariadb client would not accept it)", ErrSyntax, i)
	}
	next = lineEnd(s, i)
	arg, _ := skipSpace(s[i+len("delimiter") : next])
	if len(arg) > 0 && byteClass[arg[0]] == clsQuote {
		k := bytes.IndexByte(arg[1:], arg[0])
		if k < 0 {
			arg = nil
		} else {
			arg = arg[1 : 1+k]
		}
	} else if k := bytes.IndexAny(arg, " \t\r\v\f"); k >= 0 {
		arg = arg[:k]
	}
	switch {
	case len(arg) == 0:
		return nil, 0, fmt.Errorf("%w: DELIMITER without a delimiter at byte %d", ErrSyntax, i)
	case len(arg) > maxDelimiter:
		return nil, 0, fmt.Errorf("%w: DELIMITER longer than %d bytes at byte %d", ErrSyntax, maxDelimiter, i)
	case bytes.IndexByte(arg, '\\') >= 0:
		return nil, 0, fmt.Errorf("%w: DELIMITER with a backslash at byte %d", ErrSyntax, i)
	}
	return arg, next, nil
}

// Rows reports, for an extended INSERT statement written by lms-backup
// (INSERT INTO `tbl` (`a`,`b`) VALUES (...),(...)), the unquoted table name
// and how many row tuples it carries; ok is false for any other statement,
// including one with a trailing delimiter, comments or ON DUPLICATE KEY.
// Keywords match in any case and may be separated by any whitespace. Values
// are checked only loosely: quotes must close, parentheses must balance and
// bytes outside quotes must be ones a literal can contain. Rows allocates
// only the returned table name.
func Rows(stmt []byte) (table string, rows int, ok bool) {
	p := stmt
	var sp bool
	if p, ok = skipKeyword(p, "INSERT"); !ok {
		return "", 0, false
	}
	if p, sp = skipSpace(p); !sp {
		return "", 0, false
	}
	if p, ok = skipKeyword(p, "INTO"); !ok {
		return "", 0, false
	}
	if p, sp = skipSpace(p); !sp {
		return "", 0, false
	}
	name, p, ok := skipIdent(p)
	if !ok {
		return "", 0, false
	}
	p, _ = skipSpace(p)
	if len(p) > 0 && p[0] == '(' { // column list
		for {
			p, _ = skipSpace(p[1:])
			if _, p, ok = skipIdent(p); !ok {
				return "", 0, false
			}
			p, _ = skipSpace(p)
			if len(p) == 0 || p[0] != ',' && p[0] != ')' {
				return "", 0, false
			}
			if p[0] == ')' {
				p, _ = skipSpace(p[1:])
				break
			}
		}
	}
	if p, ok = skipKeyword(p, "VALUES"); !ok {
		return "", 0, false
	}
	p, _ = skipSpace(p)
	for {
		if p, ok = skipTuple(p); !ok {
			return "", 0, false
		}
		rows++
		p, _ = skipSpace(p)
		if len(p) == 0 {
			break
		}
		if p[0] != ',' {
			return "", 0, false
		}
		p, _ = skipSpace(p[1:])
	}
	if bytes.Contains(name, []byte("``")) {
		return strings.ReplaceAll(string(name), "``", "`"), rows, true
	}
	return string(name), rows, true
}

// skipKeyword consumes the keyword kw (upper case) matched in any case, which
// must not run on into an identifier.
func skipKeyword(p []byte, kw string) ([]byte, bool) {
	if len(p) < len(kw) || !bytes.EqualFold(p[:len(kw)], []byte(kw)) {
		return p, false
	}
	p = p[len(kw):]
	if len(p) > 0 && (valueClass[p[0]] == valLit || p[0] == '`') {
		return p, false
	}
	return p, true
}

// skipSpace consumes whitespace and reports whether there was any.
func skipSpace(p []byte) ([]byte, bool) {
	i := 0
	for i < len(p) && byteClass[p[i]] == clsSpace {
		i++
	}
	return p[i:], i > 0
}

// skipIdent consumes a non-empty backtick-quoted identifier and returns its
// body, with doubled backticks still doubled.
func skipIdent(p []byte) (name, rest []byte, ok bool) {
	if len(p) == 0 || p[0] != '`' {
		return nil, p, false
	}
	i := 1
	for {
		j := bytes.IndexByte(p[i:], '`')
		if j < 0 {
			return nil, p, false
		}
		i += j + 1
		if i < len(p) && p[i] == '`' {
			i++
			continue
		}
		if i == 2 {
			return nil, p, false
		}
		return p[1 : i-1], p[i:], true
	}
}

// Byte classes inside a VALUES tuple, outside quotes.
const (
	valBad = iota // cannot appear in a literal lms-backup writes
	valLit        // letters, digits, _ . + -
	valBlank
)

// valueClass maps a byte to its class in a VALUES tuple.
var valueClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = valLit
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = valLit
		t[c-'a'+'A'] = valLit
	}
	for _, c := range "_.+-" {
		t[c] = valLit
	}
	for _, c := range " \t\n\v\f\r" {
		t[c] = valBlank
	}
	return t
}()

// skipTuple consumes one parenthesised row tuple.
func skipTuple(p []byte) ([]byte, bool) {
	if len(p) == 0 || p[0] != '(' {
		return p, false
	}
	depth := 0
	for i := 0; i < len(p); {
		switch c := p[i]; c {
		case '(':
			depth++
			i++
		case ')':
			depth--
			i++
			if depth == 0 {
				return p[i:], true
			}
		case '\'', '"', '`':
			j, ok := skipQuoted(p, i, true)
			if !ok {
				return p, false
			}
			i = j
		case ',':
			i++
		default:
			if valueClass[c] == valBad {
				return p, false
			}
			i++
		}
	}
	return p, false
}
