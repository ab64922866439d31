package report

import (
	"strings"
)

// Summary figures are one-value queries, and a template's figures often
// differ only in what they select: "SELECT COUNT(*) FROM installments i
// JOIN loans l ... WHERE <due this month>" and "SELECT SUM(i.amount) FROM
// <the same>". Such figures are answered by one query selecting every
// value ("SELECT COUNT(*), SUM(i.amount) FROM <the same>"), one pass over
// the table instead of several; the template stays as it is.

// figureGroup is figures answered by one query: idx are their positions
// in Template.Summary, in order, and sql selects one value for each.
type figureGroup struct {
	idx []int
	sql string
}

// groupFigures groups the figures whose queries are "SELECT <one
// expression> <rest>" with the same rest, in the order of their first
// figure. A query of another shape is a group of its own.
func groupFigures(figs []FigureDef) []figureGroup {
	var groups []figureGroup
	byRest := map[string]int{}
	for i, f := range figs {
		list, rest, ok := splitSelect(f.SQL)
		if !ok {
			groups = append(groups, figureGroup{idx: []int{i}, sql: f.SQL})
			continue
		}
		if g, seen := byRest[rest]; seen {
			groups[g].idx = append(groups[g].idx, i)
			groups[g].sql += ", " + list
			continue
		}
		byRest[rest] = len(groups)
		groups = append(groups, figureGroup{idx: []int{i}, sql: "SELECT " + list})
	}
	for i, g := range groups {
		if _, rest, ok := splitSelect(figs[g.idx[0]].SQL); ok {
			groups[i].sql += " " + rest
		}
	}
	return groups
}

// splitSelect splits q into the expression of "SELECT <expression> FROM
// ..." and the rest from FROM on. ok is false unless q has that shape with
// one expression (no comma outside parentheses, no DISTINCT or other
// modifier), no comment and no clause after FROM that decides which rows
// a query returns from what it selects (GROUP BY, HAVING, ORDER BY,
// LIMIT, UNION, INTO, ...): then merging two such queries changes
// nothing in what each value is.
func splitSelect(q string) (list, rest string, ok bool) {
	q = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(q), ";"))
	if len(q) < 7 || !strings.EqualFold(q[:6], "SELECT") || !isSpace(q[6]) {
		return "", "", false
	}
	from := -1
	depth := 0
	for i := 6; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			end := skipQuoted(q, i)
			if end < 0 {
				return "", "", false
			}
			i = end
			continue
		case c == '#' || (c == '-' && strings.HasPrefix(q[i:], "--")) || (c == '/' && strings.HasPrefix(q[i:], "/*")):
			return "", "", false
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0 && from < 0:
			return "", "", false
		case c == ';':
			return "", "", false
		}
		if depth != 0 || !isWordStart(q, i) {
			continue
		}
		w := word(q, i)
		if from < 0 {
			if strings.EqualFold(w, "FROM") {
				from = i
			}
			continue
		}
		switch strings.ToUpper(w) {
		case "GROUP", "HAVING", "ORDER", "LIMIT", "UNION", "INTERSECT", "EXCEPT", "INTO", "FOR", "WINDOW", "PROCEDURE", "LOCK", "OFFSET", "FETCH":
			return "", "", false
		}
	}
	if from < 0 || depth != 0 {
		return "", "", false
	}
	list = strings.TrimSpace(q[6:from])
	first := strings.ToUpper(word(list, 0))
	switch {
	case list == "", first == "DISTINCT", first == "DISTINCTROW", first == "ALL", first == "HIGH_PRIORITY",
		first == "STRAIGHT_JOIN", strings.HasPrefix(first, "SQL_"):
		return "", "", false
	}
	return list, q[from:], true
}

// skipQuoted returns the index of the quote that closes the one at i
// (a doubled quote or a backslash escape inside does not), or -1.
func skipQuoted(q string, i int) int {
	quote := q[i]
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			if quote != '`' {
				j++
			}
		case quote:
			if j+1 < len(q) && q[j+1] == quote {
				j++
				continue
			}
			return j
		}
	}
	return -1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80
}

// isWordStart reports whether a word starts at q[i].
func isWordStart(q string, i int) bool {
	return isWordByte(q[i]) && (i == 0 || !isWordByte(q[i-1]) && q[i-1] != '.' && q[i-1] != '@')
}

// word returns the word that starts at q[i].
func word(q string, i int) string {
	j := i
	for j < len(q) && isWordByte(q[j]) {
		j++
	}
	return q[i:j]
}
