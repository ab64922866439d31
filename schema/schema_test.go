package schema

import (
	"strings"
	"testing"

	"lms-backup/internal/sqlident"
)

func TestStripDefiner(t *testing.T) {
	// Inputs are as MariaDB 10.11 SHOW CREATE prints them (the trigger is the
	// "SQL Original Statement", which keeps the user's case).
	tests := []struct {
		name, in, want string
	}{
		{
			name: "view/root-localhost/literal-in-body-kept",
			in:   "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v1` AS select `x`.`a` AS `a`,'DEFINER=`x`@`y` ' AS `s` from `x`",
			want: "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v1` AS select `x`.`a` AS `a`,'DEFINER=`x`@`y` ' AS `s` from `x`",
		},
		{
			name: "view/backtick-in-user",
			in:   "CREATE ALGORITHM=UNDEFINED DEFINER=`we``ird`@`%` SQL SECURITY DEFINER VIEW `v2` AS select `v1`.`a` AS `a` from `v1`",
			want: "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v2` AS select `v1`.`a` AS `a` from `v1`",
		},
		{
			name: "view/role",
			in:   "CREATE ALGORITHM=UNDEFINED DEFINER=`role` SQL SECURITY DEFINER VIEW `v3` AS select 1 AS `one`",
			want: "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v3` AS select 1 AS `one`",
		},
		{
			name: "view/no-definer/literal-in-body-kept",
			in:   "CREATE ALGORITHM=UNDEFINED SQL SECURITY INVOKER VIEW `v` AS select 'DEFINER=`x`@`y` ' AS `s`",
			want: "CREATE ALGORITHM=UNDEFINED SQL SECURITY INVOKER VIEW `v` AS select 'DEFINER=`x`@`y` ' AS `s`",
		},
		{
			name: "function/root-localhost/literal-in-body-kept",
			in:   "CREATE DEFINER=`root`@`localhost` FUNCTION `f1`() RETURNS text CHARSET utf8mb4 COLLATE utf8mb4_general_ci\n    DETERMINISTIC\nreturn 'DEFINER=`x`@`y` here'",
			want: "CREATE FUNCTION `f1`() RETURNS text CHARSET utf8mb4 COLLATE utf8mb4_general_ci\n    DETERMINISTIC\nreturn 'DEFINER=`x`@`y` here'",
		},
		{
			name: "function/no-definer/literal-in-body-kept",
			in:   "CREATE FUNCTION `f1`() RETURNS text CHARSET utf8mb4 COLLATE utf8mb4_general_ci\n    DETERMINISTIC\nreturn 'DEFINER=`x`@`y` here'",
			want: "CREATE FUNCTION `f1`() RETURNS text CHARSET utf8mb4 COLLATE utf8mb4_general_ci\n    DETERMINISTIC\nreturn 'DEFINER=`x`@`y` here'",
		},
		{
			name: "procedure/role",
			in:   "CREATE DEFINER=`role` PROCEDURE `p1`(in a int)\nbegin select a; end",
			want: "CREATE PROCEDURE `p1`(in a int)\nbegin select a; end",
		},
		{
			name: "procedure/no-definer/definer-in-parameter-comment-kept",
			in:   "CREATE PROCEDURE `p1`(in a int /* DEFINER=`x`@`y` */)\nbegin select 'DEFINER=`x`@`y` '; end",
			want: "CREATE PROCEDURE `p1`(in a int /* DEFINER=`x`@`y` */)\nbegin select 'DEFINER=`x`@`y` '; end",
		},
		{
			name: "trigger/backtick-in-user/lower-case-keywords",
			in:   "CREATE DEFINER=`we``ird`@`%` trigger tr1 before insert on x for each row set new.a = new.a + 1",
			want: "CREATE trigger tr1 before insert on x for each row set new.a = new.a + 1",
		},
		{
			name: "trigger/no-definer/literal-in-body-kept",
			in:   "CREATE trigger tr1 before insert on x for each row set new.s = 'DEFINER=`x`@`y` '",
			want: "CREATE trigger tr1 before insert on x for each row set new.s = 'DEFINER=`x`@`y` '",
		},
		{
			name: "event/root-localhost",
			in:   "CREATE DEFINER=`root`@`localhost` EVENT `e1` ON SCHEDULE EVERY 1 DAY STARTS '2024-01-01 00:00:00' ON COMPLETION NOT PRESERVE ENABLE DO insert into x values (1)",
			want: "CREATE EVENT `e1` ON SCHEDULE EVERY 1 DAY STARTS '2024-01-01 00:00:00' ON COMPLETION NOT PRESERVE ENABLE DO insert into x values (1)",
		},
		{
			name: "event/no-definer/literal-in-body-kept",
			in:   "CREATE EVENT `e1` ON SCHEDULE EVERY 1 DAY STARTS '2024-01-01 00:00:00' ON COMPLETION NOT PRESERVE ENABLE DO set @d = 'DEFINER=`x`@`y` '",
			want: "CREATE EVENT `e1` ON SCHEDULE EVERY 1 DAY STARTS '2024-01-01 00:00:00' ON COMPLETION NOT PRESERVE ENABLE DO set @d = 'DEFINER=`x`@`y` '",
		},
		{
			name: "single-quoted-user-and-host",
			in:   "CREATE DEFINER='o''brien'@'10.0.0.0/255.0.0.0' PROCEDURE `p`()\nselect 1",
			want: "CREATE PROCEDURE `p`()\nselect 1",
		},
		{
			name: "user-with-space-and-at",
			in:   "CREATE DEFINER=`a b@c`@`%` FUNCTION `f`() RETURNS int\nreturn 1",
			want: "CREATE FUNCTION `f`() RETURNS int\nreturn 1",
		},
		{
			name: "lower-case-definer-clause",
			in:   "create definer = `root`@`localhost` procedure p() select 1",
			want: "create procedure p() select 1",
		},
		{
			name: "not-a-create-statement",
			in:   "ALTER DEFINER=`root`@`localhost` VIEW `v` AS select 1",
			want: "ALTER DEFINER=`root`@`localhost` VIEW `v` AS select 1",
		},
		{
			name: "empty",
			in:   "",
			want: "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := StripDefiner(tc.in); got != tc.want {
				t.Errorf("StripDefiner(%q)\n got: %q\nwant: %q", tc.in, got, tc.want)
			}
		})
	}
}

// view returns a view as ListObjects reads it, with a SHOW CREATE VIEW text
// that selects from the given views.
// view returns a view of database lms reading the tables or views from,
// and its definition as information_schema.VIEWS shows it (every table
// qualified).
func view(name string, from ...string) (Definition, string) {
	var q, def strings.Builder
	def.WriteString("select 1 AS `one`")
	for i, f := range from {
		if i == 0 {
			def.WriteString(" from ")
		} else {
			def.WriteString(" join ")
		}
		def.WriteString("`lms`.")
		def.Write(sqlident.Append(nil, f))
	}
	q.WriteString("CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW ")
	q.Write(sqlident.Append(nil, name))
	q.WriteString(" AS ")
	q.WriteString(strings.ReplaceAll(def.String(), "`lms`.", ""))
	return Definition{Kind: "VIEW", Name: name, Create: q.String()}, def.String()
}

func TestSortViews(t *testing.T) {
	type v struct {
		name string
		def  string // as information_schema.VIEWS shows it; "" means view(name, from...)
		from []string
	}
	tests := []struct {
		name  string
		views []v
		want  []string
	}{
		{name: "empty"},
		{name: "one", views: []v{{name: "a", from: []string{"t"}}}, want: []string{"a"}},
		{
			name:  "chain-against-name-order",
			views: []v{{name: "a", from: []string{"b"}}, {name: "b", from: []string{"c"}}, {name: "c", from: []string{"t"}}},
			want:  []string{"c", "b", "a"},
		},
		{
			name: "diamond-with-independent",
			views: []v{{name: "a", from: []string{"b", "c"}}, {name: "b", from: []string{"d"}}, {name: "c", from: []string{"d"}},
				{name: "d", from: []string{"t"}}, {name: "e", from: []string{"t"}}},
			want: []string{"d", "e", "b", "c", "a"},
		},
		{name: "self-reference-ignored", views: []v{{name: "a", from: []string{"a"}}}, want: []string{"a"}},
		{
			name:  "backtick-names",
			views: []v{{name: "a`b", from: []string{"c``d"}}, {name: "c``d", from: []string{"t"}}, {name: "x", from: []string{"a`b"}}},
			want:  []string{"c``d", "a`b", "x"},
		},
		{
			name:  "name-prefix-is-no-dependency",
			views: []v{{name: "a", from: []string{"ab"}}, {name: "ab", from: []string{"t"}}},
			want:  []string{"ab", "a"},
		},
		{
			// a reads table t under the alias `b`, and b reads a: no
			// cycle, whatever the names' order. Text matching on SHOW
			// CREATE VIEW ("from `t` `b`") took the alias for a view.
			name: "view-name-as-table-alias",
			views: []v{
				{name: "a", def: "select `b`.`x` AS `x` from `lms`.`t` `b`"},
				{name: "b", from: []string{"a"}},
			},
			want: []string{"a", "b"},
		},
		{
			// A column named like a view, qualified by its table, and a
			// string holding a view's qualified name, are no references.
			name: "columns-and-strings",
			views: []v{
				{name: "a", def: "select `lms`.`t`.`b` AS `b`,'`lms`.`b`' AS `s` from `lms`.`t`"},
				{name: "b", from: []string{"a"}},
			},
			want: []string{"a", "b"},
		},
		{
			// Another database's view of the same name is not this one.
			name: "other-database",
			views: []v{
				{name: "a", def: "select 1 AS `one` from `other`.`b`"},
				{name: "b", from: []string{"a"}},
			},
			want: []string{"a", "b"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var views []Definition
			defs := map[string]string{}
			for _, x := range tc.views {
				o, def := view(x.name, x.from...)
				if x.def != "" {
					def = x.def
				}
				views = append(views, o)
				defs[x.name] = def
			}
			got := sortViews(views, dependencies(views, defs, "lms"))
			names := make([]string, len(got))
			for i, v := range got {
				names[i] = v.Name
			}
			if strings.Join(names, ",") != strings.Join(tc.want, ",") || len(names) != len(tc.want) {
				t.Errorf("sortViews order = %q, want %q", names, tc.want)
			}
		})
	}
}

func TestUnqualifyView(t *testing.T) {
	names := map[string]bool{"jt": true, "v": true, "f": true}
	for _, tc := range []struct{ in, want string }{
		{"select `t`.`id` AS `id` from (`lms`.`jt` `t` join JSON_TABLE(`t`.`j`, '$[*]' COLUMNS (`a` int(11) PATH '$.a')) `x`)",
			"select `t`.`id` AS `id` from (`jt` `t` join JSON_TABLE(`t`.`j`, '$[*]' COLUMNS (`a` int(11) PATH '$.a')) `x`)"},
		{"select `lms`.`f`(1) AS `x` from `lms`.`v`", "select `f`(1) AS `x` from `v`"},
		// a column of a table named like the database, a string, another
		// database, a name that is not the database's
		{"select `lms`.`jt`.`a` AS `a`,'`lms`.`jt`' AS `s` from `other`.`jt` join `lms`.`nope`",
			"select `lms`.`jt`.`a` AS `a`,'`lms`.`jt`' AS `s` from `other`.`jt` join `lms`.`nope`"},
		{"select 'it\\'s `lms`.`jt`' AS `s` from `lms` . `jt`", "select 'it\\'s `lms`.`jt`' AS `s` from `jt`"},
	} {
		if got := unqualifyView(tc.in, "lms", names, false); got != tc.want {
			t.Errorf("unqualifyView(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestUnqualifySequences(t *testing.T) {
	create := "CREATE TABLE `t` (\n  `a` int(11) DEFAULT nextval(`lms`.`s`),\n  `b` int(11) DEFAULT lastval(`lms`.`s`),\n  `c` int(11) DEFAULT nextval(`other`.`s`),\n  `d` int(11) DEFAULT nextval(`lms x`.`s`)\n) ENGINE=InnoDB"
	want := "CREATE TABLE `t` (\n  `a` int(11) DEFAULT nextval(`s`),\n  `b` int(11) DEFAULT lastval(`s`),\n  `c` int(11) DEFAULT nextval(`other`.`s`),\n  `d` int(11) DEFAULT nextval(`lms x`.`s`)\n) ENGINE=InnoDB"
	if got := UnqualifySequences(create, "lms"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
