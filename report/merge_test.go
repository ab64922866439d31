package report

import (
	"slices"
	"testing"
)

func TestSplitSelect(t *testing.T) {
	tests := []struct {
		name, q, list, rest string
		ok                  bool
	}{
		{"aggregate", "SELECT COUNT(*) FROM t WHERE a = 1", "COUNT(*)", "FROM t WHERE a = 1", true},
		{"lower case, semicolon", "select coalesce(sum(x), 0) from t;", "coalesce(sum(x), 0)", "from t", true},
		{"comma inside parentheses and a string", "SELECT IF(a, ',', 'FROM') FROM t JOIN u ON u.id = t.id", "IF(a, ',', 'FROM')", "FROM t JOIN u ON u.id = t.id", true},
		{"comma join after FROM", "SELECT SUM(a) FROM t, u WHERE t.id = u.id", "SUM(a)", "FROM t, u WHERE t.id = u.id", true},
		{"two values", "SELECT a, b FROM t", "", "", false},
		{"distinct", "SELECT DISTINCT a FROM t", "", "", false},
		{"group by", "SELECT COUNT(*) FROM t GROUP BY a", "", "", false},
		{"limit", "SELECT a FROM t LIMIT 1", "", "", false},
		{"order by", "SELECT a FROM t ORDER BY a", "", "", false},
		{"union", "SELECT a FROM t UNION SELECT b FROM u", "", "", false},
		{"comment", "SELECT a FROM t -- x", "", "", false},
		{"no FROM", "SELECT 1", "", "", false},
		{"not a SELECT", "WITH x AS (SELECT 1) SELECT * FROM x", "", "", false},
		{"qualified column named like a keyword", "SELECT SUM(t.limit) FROM t WHERE t.order > 0", "SUM(t.limit)", "FROM t WHERE t.order > 0", true},
		{"subquery with its own GROUP BY", "SELECT COUNT(*) FROM (SELECT a FROM t GROUP BY a) x", "COUNT(*)", "FROM (SELECT a FROM t GROUP BY a) x", true},
		{"unclosed quote", "SELECT 'a FROM t", "", "", false},
		{"escaped quote", `SELECT 'it\'s' FROM t`, `'it\'s'`, "FROM t", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, rest, ok := splitSelect(tt.q)
			if ok != tt.ok || list != tt.list || rest != tt.rest {
				t.Errorf("splitSelect(%q) = %q, %q, %v; want %q, %q, %v", tt.q, list, rest, ok, tt.list, tt.rest, tt.ok)
			}
		})
	}
}

// TestGroupFigures groups the built-in template's figures: those over the
// same rows share a query, in the order of their first figure.
func TestGroupFigures(t *testing.T) {
	tpl, err := LoadTemplate("")
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, g := range groupFigures(tpl.Summary) {
		var keys []string
		for _, i := range g.idx {
			keys = append(keys, tpl.Summary[i].Key)
		}
		got = append(got, keys)
	}
	want := [][]string{
		{"loans_disbursed", "principal_disbursed"},
		{"payments_received", "amount_received"},
		{"installments_due", "amount_due", "paid_on_due", "collection_rate"},
		{"outstanding_portfolio"},
		{"new_users"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("groups %v, want %v", got, want)
	}
}
