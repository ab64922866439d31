package sqlscript

import (
	"bytes"
)

// Mode is what a Splitter knows of the session's sql_mode: the two flags
// that change where the mariadb client ends a quoted string. The zero Mode
// is the usual one: a backslash escapes the next byte in '...' and "...".
//
// The stock client (MariaDB 10.11, client/mysql.cc add_line) reads both
// flags from the server status of the last statement's reply
// (SERVER_STATUS_NO_BACKSLASH_ESCAPES, SERVER_STATUS_ANSI_QUOTES), so a
// statement that changes the session's sql_mode changes how the rest of
// the script is split, from the next statement on, even on the same line.
type Mode uint8

const (
	// NoBackslashEscapes: a backslash is an ordinary byte in '...' and "...".
	NoBackslashEscapes Mode = 1 << iota
	// ANSIQuotes: a backslash is an ordinary byte in "..." (which the
	// server reads as an identifier; the client still takes it as a quote).
	ANSIQuotes
	// ModeUnknown: a statement set the sql_mode to something the splitter
	// cannot evaluate (a variable, DEFAULT, a number, SET STATEMENT, a
	// version-dependent comment). Until a SET gives a known mode again,
	// every '...' and "..." must end at the same byte with and without
	// backslash escapes, or Split fails: the script would split
	// differently under different modes.
	ModeUnknown
)

// escapes reports whether a backslash escapes the next byte in a string
// opened by quote q under mode m. Under ModeUnknown it says yes: callers
// use it only on text Split has checked ends alike either way.
func (m Mode) escapes(q byte) bool {
	switch {
	case q == '`', m&NoBackslashEscapes != 0:
		return false
	case q == '"':
		return m&ANSIQuotes == 0
	}
	return true
}

// String names the flags, for messages.
func (m Mode) String() string {
	switch {
	case m&ModeUnknown != 0:
		return "unknown sql_mode"
	case m == NoBackslashEscapes|ANSIQuotes:
		return "NO_BACKSLASH_ESCAPES,ANSI_QUOTES"
	case m == NoBackslashEscapes:
		return "NO_BACKSLASH_ESCAPES"
	case m == ANSIQuotes:
		return "ANSI_QUOTES"
	}
	return "default sql_mode"
}

// modeAfter returns the mode in force after stmt, a statement split under
// sp.Mode, ran successfully, and updates the modes sp saw saved. It recognises exactly these statements:
//
//   - SET with a list of assignments, each "name = value" or "name :=
//     value", where name may carry a scope (SESSION, LOCAL, GLOBAL before
//     it, which holds for the assignments that follow; @@session.,
//     @@local., @@global. or @@ in front of it). A session assignment to
//     sql_mode whose value is one quoted string of comma-separated mode
//     names sets the mode: NO_BACKSLASH_ESCAPES, and ANSI_QUOTES or a
//     combination holding it (ANSI, DB2, MAXDB, MSSQL, ORACLE, POSTGRESQL).
//     This covers what lms-backup writes: the header's SET
//     SQL_MODE='NO_AUTO_VALUE_ON_ZERO' and each object's SET SESSION
//     character_set_client = ..., sql_mode = '...', ...;
//   - in such a SET, "@var = @@sql_mode" (or @@session.sql_mode) saves
//     the mode and a later "sql_mode = @var" puts it back, the way
//     lms-backup's header and trailer and mariadb-dump save and restore it;
//   - the same SET inside an executable comment /*! ... */ or /*M! ... */
//     without a version number or with a five-digit one (all servers
//     lms-backup supports run those).
//
// Any other statement that mentions sql_mode outside a comment (SET
// sql_mode = @OLD_SQL_MODE or DEFAULT or a number, an expression, SET
// STATEMENT sql_mode = ... FOR, after which the 10.11 client keeps the
// statement's mode although the server does not, an unknown mode name, a
// comment that depends on a newer version) gives ModeUnknown. A statement
// that does not mention sql_mode, or is not a SET (a CREATE PROCEDURE whose
// body sets it), leaves the mode as it is; it forgets a saved mode
// whose variable name it contains (SELECT ... INTO @var may change it). Statements that change the mode
// without being a SET of it (a prepared SET run by EXECUTE) are not
// followed: lms-backup never writes them, and verify rejects them.
func (sp *Splitter) modeAfter(stmt []byte) Mode {
	if !containsFold(stmt, "sql_mode") {
		// Forget a saved mode whose variable the statement may assign.
		kept := sp.saved[:0]
		for _, v := range sp.saved {
			if !containsFold(stmt, v.name) {
				kept = append(kept, v)
			}
		}
		sp.saved = kept
		return sp.Mode
	}
	m, saved, ok := sp.evalSet(stmt)
	if !ok {
		sp.saved = sp.saved[:0]
		return ModeUnknown
	}
	sp.saved = saved
	return m
}

// evalSet evaluates a SET statement that mentions sql_mode; ok is false
// when the statement is not one modeAfter recognises. The server computes
// every value of a SET before it assigns any, so every value is read in
// the state before the statement.
func (sp *Splitter) evalSet(stmt []byte) (m Mode, saved []savedMode, ok bool) {
	m = sp.Mode
	saved = sp.saved
	if len(stmt) > 2 && stmt[0] == '/' && stmt[1] == '*' {
		inner, ok := unwrapExecutable(stmt)
		if !ok {
			return 0, nil, false
		}
		stmt = inner
	}
	p, _ := skipSpace(stmt)
	p, ok = skipKeyword(p, "SET")
	if !ok {
		return m, saved, true
	}
	global := false
	for {
		p, _ = skipSpace(p)
		p, global = skipScopeKeyword(p, global)
		name, scope, rest, ok := setTarget(p, sp.Mode)
		if !ok {
			return 0, nil, false
		}
		if p, ok = skipAssignOp(rest); !ok {
			return 0, nil, false // NAMES, CHARACTER SET, STATEMENT, ...
		}
		isGlobal := scope == "global" || scope == "" && global
		switch {
		case scope == "user":
			p, saved, ok = sp.userValue(p, name, saved)
		case bytes.EqualFold(name, []byte("sql_mode")) && !isGlobal:
			m, p, ok = sp.sessionModeValue(p)
		default:
			p, ok = skipValue(p, sp.Mode)
		}
		if !ok {
			return 0, nil, false
		}
		p, _ = skipSpace(p)
		if len(p) == 0 {
			return m, saved, true
		}
		if p[0] != ',' {
			return 0, nil, false
		}
		p = p[1:]
	}
}

// skipScopeKeyword consumes a GLOBAL, SESSION or LOCAL keyword and the
// space after it. It returns whether the assignments from there on set
// global variables: global, the scope so far, when there is no keyword.
func skipScopeKeyword(p []byte, global bool) ([]byte, bool) {
	for _, kw := range [...]string{"GLOBAL", "SESSION", "LOCAL"} {
		if q, ok := skipKeyword(p, kw); ok && len(q) > 0 && byteClass[q[0]] == clsSpace {
			q, _ = skipSpace(q)
			return q, kw == "GLOBAL"
		}
	}
	return p, global
}

// skipAssignOp consumes the = or := of an assignment and the space around
// it; ok is false when there is neither (SET NAMES, CHARACTER SET, ...).
func skipAssignOp(p []byte) ([]byte, bool) {
	p, _ = skipSpace(p)
	switch {
	case bytes.HasPrefix(p, []byte(":=")):
		p = p[2:]
	case len(p) > 0 && p[0] == '=':
		p = p[1:]
	default:
		return p, false
	}
	p, _ = skipSpace(p)
	return p, true
}

// userValue consumes the value assigned to user variable name and returns
// saved updated: @@sql_mode saves the session's mode (the one before the
// statement) under name; any other value forgets what name saved. The
// list passed in is left untouched.
func (sp *Splitter) userValue(p, name []byte, saved []savedMode) ([]byte, []savedMode, bool) {
	saved = forget(saved, name)
	if q, ok := sessionModeRef(p); ok {
		return q, append(saved, savedMode{string(bytes.ToLower(name)), sp.Mode}), true
	}
	q, ok := skipValue(p, sp.Mode)
	return q, saved, ok
}

// sessionModeValue evaluates the value assigned to the session's sql_mode:
// @var, which an earlier statement saved, or one quoted list of mode
// names. ok is false for any other value, or a mode it does not know.
func (sp *Splitter) sessionModeValue(p []byte) (m Mode, rest []byte, ok bool) {
	if len(p) > 0 && p[0] == '@' && (len(p) < 2 || p[1] != '@') {
		v, _, q, ok := setTarget(p, sp.Mode)
		if !ok {
			return 0, nil, false
		}
		if m, ok = sp.lookup(v); !ok {
			return 0, nil, false
		}
		return m, q, true
	}
	val, q, ok := quotedValue(p, sp.Mode)
	if !ok {
		return 0, nil, false
	}
	if m = parseModeList(val); m == ModeUnknown {
		return 0, nil, false
	}
	return m, q, true
}

// savedMode is a user variable that holds a copy of the session's sql_mode
// (SET @OLD_SQL_MODE=@@SQL_MODE), so that SET SQL_MODE=@OLD_SQL_MODE
// gives a known mode back.
type savedMode struct {
	name string // lower case: user variable names ignore case
	mode Mode
}

// maxSaved bounds how many saved modes a Splitter remembers; a restore
// from a variable it forgot gives ModeUnknown.
const maxSaved = 8

// forget returns saved without the variable name, copying it so that the
// Splitter's own list is untouched until the statement is evaluated.
func forget(saved []savedMode, name []byte) []savedMode {
	out := make([]savedMode, 0, len(saved)+1)
	for _, v := range saved {
		if !bytes.EqualFold([]byte(v.name), name) {
			out = append(out, v)
		}
	}
	if len(out) >= maxSaved {
		out = out[1:]
	}
	return out
}

// lookup returns the mode a user variable saved before this statement.
func (sp *Splitter) lookup(name []byte) (Mode, bool) {
	for _, v := range sp.saved {
		if bytes.EqualFold([]byte(v.name), name) {
			return v.mode, true
		}
	}
	return 0, false
}

// sessionModeRef consumes a value that is exactly @@sql_mode,
// @@session.sql_mode or @@local.sql_mode, then a comma or the end.
func sessionModeRef(p []byte) ([]byte, bool) {
	if !bytes.HasPrefix(p, []byte("@@")) {
		return p, false
	}
	name, scope, rest, ok := setTarget(p, 0)
	if !ok || scope != "session" || !bytes.EqualFold(name, []byte("sql_mode")) {
		return p, false
	}
	if q, _ := skipSpace(rest); len(q) > 0 && q[0] != ',' {
		return p, false
	}
	return rest, true
}

// unwrapExecutable returns the statement inside an executable comment that
// is the whole of stmt, false when the comment has a version number the
// server might not run it for, or is not the whole statement.
func unwrapExecutable(stmt []byte) ([]byte, bool) {
	p := stmt[2:]
	switch {
	case len(p) > 0 && p[0] == '!':
		p = p[1:]
	case len(p) > 1 && p[0] == 'M' && p[1] == '!':
		p = p[2:]
	default:
		return nil, false
	}
	digits := 0
	for digits < len(p) && p[digits] >= '0' && p[digits] <= '9' {
		digits++
	}
	if digits != 0 && digits != 5 {
		return nil, false
	}
	p = p[digits:]
	end := bytes.Index(p, []byte("*/"))
	if end < 0 || len(bytes.TrimSpace(p[end+2:])) > 0 {
		return nil, false
	}
	return p[:end], true
}

// setTarget reads the variable an assignment sets: a plain or `quoted`
// name, @user (scope "user"), or @@[scope.]name.
func setTarget(p []byte, m Mode) (name []byte, scope string, rest []byte, ok bool) {
	switch {
	case bytes.HasPrefix(p, []byte("@@")):
		p = p[2:]
		for _, s := range [...]string{"global", "session", "local"} {
			if len(p) > len(s) && bytes.EqualFold(p[:len(s)], []byte(s)) {
				q, _ := skipSpace(p[len(s):])
				if len(q) > 0 && q[0] == '.' {
					scope = s
					if s == "local" {
						scope = "session"
					}
					p, _ = skipSpace(q[1:])
					break
				}
			}
		}
		if scope == "" {
			scope = "session"
		}
	case len(p) > 0 && p[0] == '@':
		scope = "user"
		p = p[1:]
		if len(p) > 0 && byteClass[p[0]] == clsQuote {
			if m&ModeUnknown != 0 {
				return nil, "", nil, false
			}
			j, ok := skipQuoted(p, 0, m.escapes(p[0]))
			if !ok {
				return nil, "", nil, false
			}
			return p[1 : j-1], scope, p[j:], true
		}
	}
	if len(p) > 0 && p[0] == '`' {
		j, ok := skipQuoted(p, 0, false)
		if !ok {
			return nil, "", nil, false
		}
		return p[1 : j-1], scope, p[j:], true
	}
	i := 0
	for i < len(p) && (valueClass[p[i]] == valLit && p[i] != '.' && p[i] != '+' && p[i] != '-' || p[i] == '$') {
		i++
	}
	if i == 0 {
		return nil, "", nil, false
	}
	return p[:i], scope, p[i:], true
}

// quotedValue reads a value that is exactly one '...' string (or "..."
// without ANSI_QUOTES) without backslashes or doubled quotes, then a comma
// or the end.
func quotedValue(p []byte, m Mode) (val, rest []byte, ok bool) {
	if len(p) == 0 || p[0] != '\'' && (p[0] != '"' || m&(ANSIQuotes|ModeUnknown) != 0) {
		return nil, p, false
	}
	j := bytes.IndexByte(p[1:], p[0])
	if j < 0 {
		return nil, p, false
	}
	val, rest = p[1:1+j], p[2+j:]
	if bytes.IndexByte(val, '\\') >= 0 || len(rest) > 0 && rest[0] == p[0] {
		return nil, p, false
	}
	if q, _ := skipSpace(rest); len(q) > 0 && q[0] != ',' {
		return nil, p, false
	}
	return val, rest, true
}

// skipValue consumes an expression up to a comma outside parentheses and
// quotes, or the end.
func skipValue(p []byte, m Mode) ([]byte, bool) {
	depth := 0
	for i := 0; i < len(p); {
		switch c := p[i]; c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				return p[i:], true
			}
		case '\'', '"', '`':
			if m&ModeUnknown != 0 {
				return nil, false
			}
			j, ok := skipQuoted(p, i, m.escapes(c))
			if !ok {
				return nil, false
			}
			i = j
			continue
		}
		i++
	}
	return nil, depth == 0
}

// modeFlags maps the sql_mode names MariaDB 10.11 knows to the flags they
// carry for the splitter; the combination modes that include ANSI_QUOTES
// carry it too (checked on the server: SET sql_mode='ORACLE' shows
// ANSI_QUOTES, and the client then splits "a\" as a whole identifier).
var modeFlags = map[string]Mode{
	"NO_BACKSLASH_ESCAPES": NoBackslashEscapes,
	"ANSI_QUOTES":          ANSIQuotes,
	"ANSI":                 ANSIQuotes, "DB2": ANSIQuotes, "MAXDB": ANSIQuotes,
	"MSSQL": ANSIQuotes, "ORACLE": ANSIQuotes, "POSTGRESQL": ANSIQuotes,
	"REAL_AS_FLOAT": 0, "PIPES_AS_CONCAT": 0, "IGNORE_SPACE": 0,
	"IGNORE_BAD_TABLE_OPTIONS": 0, "ONLY_FULL_GROUP_BY": 0,
	"NO_UNSIGNED_SUBTRACTION": 0, "NO_DIR_IN_CREATE": 0, "NO_KEY_OPTIONS": 0,
	"NO_TABLE_OPTIONS": 0, "NO_FIELD_OPTIONS": 0, "MYSQL323": 0, "MYSQL40": 0,
	"NO_AUTO_VALUE_ON_ZERO": 0, "STRICT_TRANS_TABLES": 0, "STRICT_ALL_TABLES": 0,
	"NO_ZERO_IN_DATE": 0, "NO_ZERO_DATE": 0, "ALLOW_INVALID_DATES": 0,
	"ERROR_FOR_DIVISION_BY_ZERO": 0, "TRADITIONAL": 0, "NO_AUTO_CREATE_USER": 0,
	"HIGH_NOT_PRECEDENCE": 0, "NO_ENGINE_SUBSTITUTION": 0,
	"PAD_CHAR_TO_FULL_LENGTH": 0, "EMPTY_STRING_IS_NULL": 0,
	"SIMULTANEOUS_ASSIGNMENT": 0, "TIME_ROUND_FRACTIONAL": 0,
}

// parseModeList returns the flags of a comma-separated list of mode names
// (any case); an empty list is the zero Mode, and a name it does not know
// or an empty item gives ModeUnknown.
func parseModeList(val []byte) Mode {
	if len(val) == 0 {
		return 0
	}
	var m Mode
	var buf [32]byte
	for item := range bytes.SplitSeq(val, []byte(",")) {
		if len(item) == 0 || len(item) > len(buf) {
			return ModeUnknown
		}
		f, ok := modeFlags[string(upper(buf[:0], item))]
		if !ok {
			return ModeUnknown
		}
		m |= f
	}
	return m
}

// upper appends the ASCII upper case of s to b.
func upper(b, s []byte) []byte {
	for _, c := range s {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// containsFold reports whether s holds word, which is in lower case, in
// any ASCII case.
func containsFold(s []byte, word string) bool {
	if word == "" {
		return true
	}
	w0 := word[0]
	for i := 0; i+len(word) <= len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c == w0 && bytes.EqualFold(s[i:i+len(word)], []byte(word)) {
			return true
		}
	}
	return false
}
