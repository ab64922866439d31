package schema

import "strings"

// viewToken is one token of a view definition as the server prints it:
// what matters here is only quoted identifiers, dots and where each token
// starts and ends.
type viewToken struct {
	start, end int
	ident      string // the unquoted name of a `quoted` identifier
	isIdent    bool
	dot        bool
}

// viewTokens cuts a view definition into tokens. Strings ('...' and
// "..."; backslash escapes unless noBackslash) and every other byte run
// are tokens that are neither identifiers nor dots. An unterminated quote
// ends the text.
func viewTokens(s string, noBackslash bool) []viewToken {
	var out []viewToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '`':
			name, rest, ok := cutIdent(s[i:])
			end := len(s) - len(rest)
			if !ok {
				end = len(s) // unterminated: the rest is the name
			}
			out = append(out, viewToken{start: i, end: end, ident: name, isIdent: ok})
			i = end
		case c == '\'' || c == '"':
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\\' && !noBackslash {
					j++
					continue
				}
				if s[j] == c {
					break
				}
			}
			end := min(j+1, len(s))
			out = append(out, viewToken{start: i, end: end})
			i = end
		case c == '.':
			out = append(out, viewToken{start: i, end: i + 1, dot: true})
			i++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++ // not a token: a dot after a blank still follows the name
		default:
			out = append(out, viewToken{start: i, end: i + 1})
			i++
		}
	}
	return out
}

// qualifiedRefs calls fn for every `db`.`name` in tokens whose name is in
// names, that no dot precedes and no dot follows: a reference to an object
// of db (`db`.`t`.`c` is a column, `x`.`db`.`t` is not db's).
func qualifiedRefs(toks []viewToken, db string, names map[string]bool, fn func(dbTok, nameTok viewToken)) {
	for i := 0; i+2 < len(toks); i++ {
		t, d, n := toks[i], toks[i+1], toks[i+2]
		if !t.isIdent || t.ident != db || !d.dot || !n.isIdent || !names[n.ident] {
			continue
		}
		if i > 0 && toks[i-1].dot {
			continue
		}
		if i+3 < len(toks) && toks[i+3].dot {
			continue
		}
		fn(t, n)
	}
}

// tableRefs returns the names of db's objects among names that a view
// definition from information_schema.VIEWS (every table qualified) reads.
func tableRefs(def, db string, names map[string]bool) []string {
	var refs []string
	qualifiedRefs(viewTokens(def, false), db, names, func(_, n viewToken) { refs = append(refs, n.ident) })
	return refs
}

// unqualifyView drops the view's own database from references to db's
// objects (names) in a CREATE VIEW: the server prints some (for example
// next to JSON_TABLE) as `db`.`t`, which would tie the restored view to
// the source database. References to other databases are kept.
func unqualifyView(create, db string, names map[string]bool, noBackslash bool) string {
	var b strings.Builder
	last := 0
	qualifiedRefs(viewTokens(create, noBackslash), db, names, func(d, n viewToken) {
		b.WriteString(create[last:d.start])
		last = n.start
	})
	if last == 0 {
		return create
	}
	b.WriteString(create[last:])
	return b.String()
}
