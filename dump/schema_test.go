package dump

import (
	"strings"
	"testing"
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
			if got := stripDefiner(tc.in); got != tc.want {
				t.Errorf("stripDefiner(%q)\n got: %q\nwant: %q", tc.in, got, tc.want)
			}
		})
	}
}

// view returns a view as listObjects reads it, with a SHOW CREATE VIEW text
// that selects from the given views.
func view(name string, from ...string) object {
	var q strings.Builder
	q.WriteString("CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW ")
	q.Write(AppendIdent(nil, name))
	q.WriteString(" AS select 1 AS `one`")
	for i, f := range from {
		if i == 0 {
			q.WriteString(" from ")
		} else {
			q.WriteString(" join ")
		}
		q.Write(AppendIdent(nil, f))
	}
	return object{Kind: "VIEW", Name: name, Create: q.String()}
}

// TestSortViews documents the order: repeated passes over the views in
// their given (name) order, each pass taking every view whose dependencies
// are all placed; when a pass places nothing (a cycle, possible only through
// a false dependency), all remaining views follow in name order.
func TestSortViews(t *testing.T) {
	tests := []struct {
		name  string
		views []object
		want  []string
	}{
		{
			name: "empty",
		},
		{
			name:  "one",
			views: []object{view("a", "t")},
			want:  []string{"a"},
		},
		{
			name:  "independent-keep-order",
			views: []object{view("a", "t1"), view("b", "t2"), view("c")},
			want:  []string{"a", "b", "c"},
		},
		{
			name:  "chain-against-name-order",
			views: []object{view("a", "b"), view("b", "c"), view("c", "t")},
			want:  []string{"c", "b", "a"},
		},
		{
			name:  "diamond",
			views: []object{view("a", "b", "c"), view("b", "d"), view("c", "d"), view("d", "t")},
			want:  []string{"d", "b", "c", "a"},
		},
		{
			name:  "diamond-with-independent",
			views: []object{view("a", "b", "c"), view("b", "d"), view("c", "d"), view("d", "t"), view("e", "t")},
			want:  []string{"d", "e", "b", "c", "a"},
		},
		{
			name:  "self-reference-ignored",
			views: []object{view("a", "a")},
			want:  []string{"a"},
		},
		{
			name:  "backtick-names",
			views: []object{view("a`b", "c``d"), view("c``d", "t"), view("x", "a`b")},
			want:  []string{"c``d", "a`b", "x"},
		},
		{
			name:  "name-prefix-is-no-dependency",
			views: []object{view("a", "ab"), view("ab", "t")},
			want:  []string{"ab", "a"},
		},
		{
			// `b` is only a column alias in a ("AS `b`"), which is not taken
			// for a dependency, so there is no cycle: a, then b, which reads a.
			name: "false-dependency-cycle",
			views: []object{
				{Kind: "VIEW", Name: "a", Create: "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `a` AS select `t`.`x` AS `b` from `t`"},
				view("b", "a"),
				view("c", "t"),
			},
			want: []string{"a", "b", "c"},
		},
		{
			name: "false-dependency-cycle-of-three",
			views: []object{
				view("a", "b"),
				view("b", "c"),
				{Kind: "VIEW", Name: "c", Create: "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `c` AS select 1 AS `a`"},
				view("d", "t"),
			},
			// c's `a` is an alias ("AS `a`"), not a dependency: no cycle.
			want: []string{"c", "d", "b", "a"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sortViews(tc.views)
			names := make([]string, len(got))
			count := map[string]int{}
			for i, v := range got {
				names[i] = v.Name
				count[v.Name]++
			}
			for _, v := range tc.views {
				if count[v.Name] != 1 {
					t.Errorf("view %q returned %d times", v.Name, count[v.Name])
				}
			}
			if strings.Join(names, ",") != strings.Join(tc.want, ",") || len(names) != len(tc.want) {
				t.Errorf("sortViews order = %q, want %q", names, tc.want)
			}
		})
	}
}

// TestSortViewsRealCycleBreak checks the fallback for a cycle that the
// alias rule cannot see through: the view with the fewest unplaced
// dependencies goes first, and real dependencies after it keep their order.
func TestSortViewsRealCycleBreak(t *testing.T) {
	mk := func(name, body string) object {
		return object{Kind: "VIEW", Name: name, Create: "CREATE VIEW `" + name + "` AS " + body}
	}
	// x mentions `y` in a string literal only (a false dependency the alias
	// rule does not recognise); y reads x; w reads y.
	views := []object{
		mk("w", "select `y`.`a` AS `a` from `y`"),
		mk("x", "select '`y`' AS `a` from `t`"),
		mk("y", "select `x`.`a` AS `a` from `x`"),
	}
	var got []string
	for _, v := range sortViews(views) {
		got = append(got, v.Name)
	}
	if strings.Join(got, ",") != "x,y,w" {
		t.Fatalf("order %v, want x,y,w", got)
	}
}

func TestUnqualifySequences(t *testing.T) {
	create := "CREATE TABLE `t` (\n  `a` int(11) DEFAULT nextval(`lms`.`s`),\n  `b` int(11) DEFAULT lastval(`lms`.`s`),\n  `c` int(11) DEFAULT nextval(`other`.`s`),\n  `d` int(11) DEFAULT nextval(`lms x`.`s`)\n) ENGINE=InnoDB"
	want := "CREATE TABLE `t` (\n  `a` int(11) DEFAULT nextval(`s`),\n  `b` int(11) DEFAULT lastval(`s`),\n  `c` int(11) DEFAULT nextval(`other`.`s`),\n  `d` int(11) DEFAULT nextval(`lms x`.`s`)\n) ENGINE=InnoDB"
	if got := unqualifySequences(create, "lms"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
