package sqlscript

import (
	"bytes"
	"fmt"
	"strings"

	"lms-backup/dumpfile"
)

// Statement kinds verify tells apart. A statement that is one executable
// comment as a whole (/*!NNNNN ... */, /*M!NNNNNN ... */) is classified by
// what is inside it.
type stmtKind uint8

const (
	stmtOther          stmtKind = iota
	stmtSet                     // SET of session variables with plain values: no GLOBAL, PASSWORD, ROLE, STATEMENT ... FOR, no expressions
	stmtDropTable               // DROP TABLE IF EXISTS `t`
	stmtCreateTable             // CREATE TABLE `t` ...
	stmtDropSequence            // DROP SEQUENCE IF EXISTS `t`
	stmtCreateSequence          // CREATE SEQUENCE `t` ...
	stmtSetval                  // DO SETVAL(`t`, ...)
	stmtInsert                  // INSERT INTO `t` ... (checked by Rows)
	stmtDropObject              // DROP VIEW|PROCEDURE|FUNCTION|TRIGGER|EVENT|PACKAGE [BODY] IF EXISTS `name`
	stmtCreateObject            // CREATE [OR REPLACE] [ALGORITHM=..] [DEFINER=..] [SQL SECURITY ..] [AGGREGATE] VIEW|PROCEDURE|FUNCTION|TRIGGER|EVENT|PACKAGE [BODY] `name` ...
)

// frameStatements is what each frame kind may hold. The kinds marked own
// in ownsName must name the frame's table (unqualified).
var frameStatements = map[dumpfile.Kind][]stmtKind{
	dumpfile.KindHeader:  {stmtSet},
	dumpfile.KindSchema:  {stmtDropTable, stmtCreateTable, stmtDropSequence, stmtCreateSequence, stmtSetval},
	dumpfile.KindData:    {stmtInsert},
	dumpfile.KindObjects: {stmtDropObject, stmtSet, stmtCreateObject},
	dumpfile.KindTrailer: {stmtSet},
}

var ownsName = map[stmtKind]bool{
	stmtDropTable: true, stmtCreateTable: true, stmtDropSequence: true,
	stmtCreateSequence: true, stmtSetval: true, stmtInsert: true,
}

// objectKinds are the keywords of the stored objects an objects frame may
// drop and create.
var objectKinds = []string{"VIEW", "PROCEDURE", "FUNCTION", "TRIGGER", "EVENT", "PACKAGE"}

// createPrefixWords may come between CREATE and the object keyword.
var createPrefixWords = []string{"OR", "REPLACE", "ALGORITHM", "UNDEFINED", "MERGE", "TEMPTABLE",
	"DEFINER", "CURRENT_USER", "SQL", "SECURITY", "INVOKER", "AGGREGATE"}

// checkKind returns an error when stmt, split under mode m, is not a
// statement a frame like info may hold.
func checkKind(info dumpfile.FrameInfo, stmt []byte, m Mode) error {
	kind, name := classify(stmt, m)
	for _, k := range frameStatements[info.Kind] {
		if k != kind {
			continue
		}
		if ownsName[k] && name != info.Table {
			return fmt.Errorf("a %s frame for %q holds a statement for %q: %s", info.Kind, info.Table, name, Head(stmt))
		}
		return nil
	}
	return fmt.Errorf("a %s frame may not hold this statement: %s", info.Kind, Head(stmt))
}

// classify returns the kind of stmt and, for the kinds of ownsName, the
// unquoted name it applies to.
func classify(stmt []byte, m Mode) (stmtKind, string) {
	p := stmt
	if len(p) > 2 && p[0] == '/' && p[1] == '*' {
		if p = unwrapAny(p); p == nil {
			return stmtOther, ""
		}
		p, _ = skipSpace(p)
	}
	w, rest := word(p)
	switch w {
	case "SET":
		if isPlainSet(rest, m) {
			return stmtSet, ""
		}
	case "INSERT":
		if name, _, ok := Rows(p); ok {
			return stmtInsert, name
		}
	case "DO":
		return classifyDo(rest, m)
	case "DROP":
		return classifyDrop(rest, m)
	case "CREATE":
		return classifyCreate(rest, m)
	}
	return stmtOther, ""
}

// classifyDo classifies a statement from the text after DO: SETVAL( then
// an unqualified name and a comma is stmtSetval, anything else stmtOther.
func classifyDo(rest []byte, m Mode) (stmtKind, string) {
	w, rest := word(rest)
	if w != "SETVAL" {
		return stmtOther, ""
	}
	rest, _ = skipSpace(rest)
	if len(rest) == 0 || rest[0] != '(' {
		return stmtOther, ""
	}
	rest, _ = skipSpace(rest[1:])
	if name, after, ok := unqualified(rest, m); ok {
		if after, _ = skipSpace(after); len(after) > 0 && after[0] == ',' {
			return stmtSetval, name
		}
	}
	return stmtOther, ""
}

// classifyDrop classifies a statement from the text after DROP: TABLE,
// SEQUENCE or one of objectKinds (PACKAGE [BODY]), then IF EXISTS and an
// unqualified name that ends the statement; anything else is stmtOther.
func classifyDrop(rest []byte, m Mode) (stmtKind, string) {
	w, rest := word(rest)
	kind := stmtDropObject
	switch w {
	case "TABLE":
		kind = stmtDropTable
	case "SEQUENCE":
		kind = stmtDropSequence
	case "PACKAGE":
		if w2, r2 := word(rest); w2 == "BODY" {
			rest = r2
		}
	default:
		if !isObjectKind(w) {
			return stmtOther, ""
		}
	}
	for _, kw := range [...]string{"IF", "EXISTS"} {
		if w, rest = word(rest); w != kw {
			return stmtOther, ""
		}
	}
	rest, _ = skipSpace(rest)
	if name, after, ok := unqualified(rest, m); ok && len(bytes.TrimSpace(after)) == 0 {
		return kind, name
	}
	return stmtOther, ""
}

// classifyCreate classifies a statement from the text after CREATE: TABLE
// or SEQUENCE and an unqualified name, or a stored object as
// createsObject accepts it; anything else is stmtOther.
func classifyCreate(rest []byte, m Mode) (stmtKind, string) {
	w, rest := word(rest)
	switch w {
	case "TABLE", "SEQUENCE":
		rest, _ = skipSpace(rest)
		if name, _, ok := unqualified(rest, m); ok {
			if w == "TABLE" {
				return stmtCreateTable, name
			}
			return stmtCreateSequence, name
		}
		return stmtOther, ""
	}
	if createsObject(w, rest, m) {
		return stmtCreateObject, ""
	}
	return stmtOther, ""
}

// createsObject reports whether the words after CREATE, the first being
// w, name a stored object in the current database: only the words of
// createPrefixWords, quoted names, "=", "@" and "()" before one of
// objectKinds, then an unqualified name.
func createsObject(w string, rest []byte, m Mode) bool {
	for range 16 {
		if isObjectKind(w) {
			if w == "PACKAGE" {
				if w2, r2 := word(rest); w2 == "BODY" {
					rest = r2
				}
			}
			rest, _ = skipSpace(rest)
			if w2, r2 := word(rest); w2 == "IF" { // IF NOT EXISTS
				if w3, r3 := word(r2); w3 == "NOT" {
					if w4, r4 := word(r3); w4 == "EXISTS" {
						rest, _ = skipSpace(r4)
					}
				}
			}
			_, _, ok := unqualified(rest, m)
			return ok
		}
		if w == "" {
			rest, _ = skipSpace(rest)
			if len(rest) == 0 {
				return false
			}
			switch c := rest[0]; c {
			case '=', '@', '(', ')':
				rest = rest[1:]
			case '`', '\'', '"':
				j, ok := skipQuoted(rest, 0, m.escapes(c))
				if !ok {
					return false
				}
				rest = rest[j:]
			default:
				return false
			}
		} else if !contains(createPrefixWords, w) {
			return false
		}
		w, rest = word(rest)
	}
	return false
}

// isPlainSet reports whether p, the text after SET, assigns only session
// variables, each to a plain value: a quoted string, a number or word, or
// a user or system variable; SET NAMES and SET CHARACTER SET also pass.
func isPlainSet(p []byte, m Mode) bool {
	for {
		p, _ = skipSpace(p)
		w, rest := word(p)
		switch w {
		case "GLOBAL", "PASSWORD", "ROLE", "DEFAULT", "STATEMENT", "TRANSACTION":
			return false
		case "SESSION", "LOCAL":
			p, _ = skipSpace(rest)
			w, rest = word(p)
		}
		switch w {
		case "NAMES", "CHARSET", "CHARACTER":
			if w == "CHARACTER" {
				if w, rest = word(rest); w != "SET" {
					return false
				}
			}
			var ok bool
			if rest, ok = plainValue(rest, m); !ok {
				return false
			}
			if w, r := word(rest); w == "COLLATE" {
				if rest, ok = plainValue(r, m); !ok {
					return false
				}
			}
			p = rest
		default:
			_, scope, rest, ok := setTarget(p, m)
			if !ok || scope == "global" {
				return false
			}
			if rest, ok = skipAssignOp(rest); !ok {
				return false
			}
			if p, ok = plainValue(rest, m); !ok {
				return false
			}
		}
		p, _ = skipSpace(p)
		if len(p) == 0 {
			return true
		}
		if p[0] != ',' {
			return false
		}
		p = p[1:]
	}
}

// plainValue consumes a quoted string, a run of letters, digits and _ . +
// -, or a @user / @@[scope.]system variable.
func plainValue(p []byte, m Mode) ([]byte, bool) {
	p, _ = skipSpace(p)
	if len(p) == 0 {
		return p, false
	}
	switch c := p[0]; {
	case c == '\'' || c == '"':
		// Under ModeUnknown Split has made sure the string ends at the
		// same byte with and without escapes.
		j, ok := skipQuoted(p, 0, m.escapes(c))
		return p[min(j, len(p)):], ok
	case c == '@':
		_, _, rest, ok := setTarget(p, m)
		return rest, ok
	}
	i := 0
	for i < len(p) && valueClass[p[i]] == valLit {
		i++
	}
	return p[i:], i > 0
}

// word returns the next bare word of p in upper case ("" when p does not
// start with one, after blanks) and the text after it.
func word(p []byte) (string, []byte) {
	p, _ = skipSpace(p)
	i := 0
	for i < len(p) && (valueClass[p[i]] == valLit && p[i] != '.' && p[i] != '+' && p[i] != '-') {
		i++
	}
	if i == 0 || i > 32 {
		return "", p
	}
	var buf [32]byte
	return string(upper(buf[:0], p[:i])), p[i:]
}

// unqualified reads one backtick-quoted name (or a bare one, or a "..."
// one under ANSI_QUOTES) that is not followed by a "." (which would
// qualify it with a database).
func unqualified(p []byte, m Mode) (name string, rest []byte, ok bool) {
	var raw []byte
	if len(p) > 0 && p[0] == '"' && m&(ANSIQuotes|ModeUnknown) == ANSIQuotes {
		j, ok := skipQuoted(p, 0, false)
		if !ok {
			return "", p, false
		}
		name, rest = string(bytes.ReplaceAll(p[1:j-1], []byte(`""`), []byte(`"`))), p[j:]
	} else if len(p) > 0 && p[0] == '`' {
		var n []byte
		if n, rest, ok = skipIdent(p); !ok {
			return "", p, false
		}
		raw = n
		name = string(bytes.ReplaceAll(raw, []byte("``"), []byte("`")))
	} else {
		w := 0
		for w < len(p) && (valueClass[p[w]] == valLit && p[w] != '.' && p[w] != '+' && p[w] != '-' || p[w] == '$') {
			w++
		}
		if w == 0 {
			return "", p, false
		}
		name, rest = string(p[:w]), p[w:]
	}
	if r, _ := skipSpace(rest); len(r) > 0 && r[0] == '.' {
		return "", p, false
	}
	return name, rest, true
}

// unwrapAny returns the inside of a statement that is one executable
// comment, whatever its version, or nil.
func unwrapAny(stmt []byte) []byte {
	p := stmt[2:]
	switch {
	case len(p) > 0 && p[0] == '!':
		p = p[1:]
	case len(p) > 1 && p[0] == 'M' && p[1] == '!':
		p = p[2:]
	default:
		return nil
	}
	for len(p) > 0 && p[0] >= '0' && p[0] <= '9' {
		p = p[1:]
	}
	if !bytes.HasSuffix(p, []byte("*/")) {
		return nil
	}
	p = p[:len(p)-2]
	if bytes.Contains(p, []byte("*/")) {
		return nil
	}
	return p
}

func isObjectKind(w string) bool { return contains(objectKinds, w) }

func contains(list []string, w string) bool {
	for _, s := range list {
		if s == w {
			return true
		}
	}
	return false
}

// CheckStatements checks that f holds only statements of the kinds its
// frame kind may hold (frameStatements), as Verify does, so that a restore
// can refuse a frame that would create another database or drop a table it
// does not name before any of its statements runs. Data frames, which are
// most of a dump and hold nothing but extended INSERTs, are not checked: a
// restore checks each of their statements as it runs it. The error wraps
// dumpfile.ErrCorrupt.
func CheckStatements(f *dumpfile.Frame) error {
	if f.Info.Kind == dumpfile.KindData {
		return nil
	}
	sp := FrameSplitter(f.Info.Kind)
	err := sp.Split(f.Data, func(s Statement) error {
		return checkKind(f.Info, s.Text, sp.modeBefore)
	})
	if err != nil {
		return fmt.Errorf("%w: frame %d at byte %d: %v", dumpfile.ErrCorrupt, f.Index+1, f.Offset, err)
	}
	return nil
}

// Head returns the first characters of a statement for an error message.
// For an INSERT it stops before VALUES: the rows are personal data and do
// not belong in a log.
func Head(stmt []byte) string {
	const n = 80
	if i := bytes.Index(stmt[:min(len(stmt), 4096)], []byte(") VALUES ")); i > 0 && bytes.HasPrefix(stmt, []byte("INSERT INTO ")) {
		stmt = stmt[:i+len(") VALUES")]
		if len(stmt) > n {
			stmt = stmt[:n]
		}
		return strings.ToValidUTF8(string(stmt), "?") + " ..."
	}
	s := strings.ToValidUTF8(string(stmt[:min(len(stmt), n)]), "?")
	if len(stmt) > n {
		s += "..."
	}
	return strings.ReplaceAll(s, "\n", " ")
}
