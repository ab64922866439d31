package sqlscript

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// updateGolden rewrites golden files instead of comparing with them. Other
// tests of this package should use it rather than define their own -update.
var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata")

// splitAll returns the texts Split passes to fn, checking on the way the
// contract every Statement must meet.
func splitAll(t testing.TB, script []byte) ([]string, error) {
	t.Helper()
	var texts []string
	prevEnd := 0
	err := Split(script, func(st Statement) error {
		checkStatement(t, script, st, prevEnd)
		prevEnd = st.Offset + len(st.Text)
		texts = append(texts, string(st.Text))
		return nil
	})
	return texts, err
}

// checkStatement fails t unless st lies in script after prevEnd, aliases it
// and has no surrounding whitespace.
func checkStatement(t testing.TB, script []byte, st Statement, prevEnd int) {
	t.Helper()
	n := len(st.Text)
	switch {
	case n == 0:
		t.Fatalf("empty statement at byte %d", st.Offset)
	case st.Offset < prevEnd || st.Offset+n > len(script):
		t.Fatalf("statement at byte %d, %d bytes, outside script of %d bytes or before byte %d", st.Offset, n, len(script), prevEnd)
	case &st.Text[0] != &script[st.Offset]:
		t.Fatalf("statement at byte %d does not alias the script", st.Offset)
	case cap(st.Text) != n:
		t.Fatalf("statement at byte %d: cap %d, want %d", st.Offset, cap(st.Text), n)
	case byteClass[st.Text[0]] == clsSpace || byteClass[st.Text[n-1]] == clsSpace:
		t.Fatalf("statement at byte %d has surrounding whitespace: %q", st.Offset, st.Text)
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   []string
	}{
		{"empty script", "", nil},
		{"only whitespace", " \n\t\r\n", nil},
		{"two statements", "SELECT 1;SELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"surrounding whitespace", "  SELECT 1 ;\n\n\tSELECT\n2\t;\n", []string{"SELECT 1", "SELECT\n2"}},
		{"last statement without delimiter", "SELECT 1;\nSELECT 2\n", []string{"SELECT 1", "SELECT 2"}},
		{"trailing comments yield nothing", "SELECT 1;\n-- end\n/* c; */ # x\n--", []string{"SELECT 1"}},
		{"empty statements skipped", ";;SELECT 1;;;\n ;", []string{"SELECT 1"}},

		{"single quote escaped delimiter", `SELECT 'a;b\';c';SELECT 2;`, []string{`SELECT 'a;b\';c'`, "SELECT 2"}},
		{"single quote doubled", "SELECT 'it''s;';SELECT 2;", []string{"SELECT 'it''s;'", "SELECT 2"}},
		{"escaped backslash ends quote", `SELECT 'a\\';SELECT 2;`, []string{`SELECT 'a\\'`, "SELECT 2"}},
		{"double quote escapes", `SELECT "a\";b", "x""y;";SELECT 2;`, []string{`SELECT "a\";b", "x""y;"`, "SELECT 2"}},
		{"quotes of other kinds inside", `SELECT 'a"b` + "`" + `;', "c'd;";`, []string{`SELECT 'a"b` + "`" + `;', "c'd;"`}},
		{"backticks with delimiter and quotes", "SELECT `a;b'c\"d` FROM `t``;x`;SELECT 2;", []string{"SELECT `a;b'c\"d` FROM `t``;x`", "SELECT 2"}},
		{"backslash is plain in backticks", "SELECT `a\\`;SELECT 2;", []string{"SELECT `a\\`", "SELECT 2"}},
		{"escaped newline in quote", "SELECT 'a\\\n;';", []string{"SELECT 'a\\\n;'"}},

		{"comments with quotes and delimiters", "/* it's; */ SELECT 1 /* ; ' */ + 1;# ';\nSELECT 2 -- ' ;\n;", []string{"SELECT 1 /* ; ' */ + 1", "SELECT 2"}},
		{"leading comments skipped", "-- header\n/* x */\n# y\n  SELECT 1;", []string{"SELECT 1"}},
		{"trailing comment trimmed", "SELECT 1 /* x */ -- y\n;", []string{"SELECT 1"}},
		{"dash comment in the middle keeps its newline", "SELECT 1 -- one;\n+ 2;", []string{"SELECT 1 -- one;\n+ 2"}},
		{"dash dash without space is not a comment", "SELECT 1--1;", []string{"SELECT 1--1"}},
		{"dash dash tab is a comment", "SELECT 1 --\t;x\n+2;", []string{"SELECT 1 --\t;x\n+2"}},
		{"dash dash at line end is a comment", "SELECT 1 --\n+2;", []string{"SELECT 1 --\n+2"}},
		{"dash dash at statement start is a comment", "--x;\nSELECT 1;--y;\nSELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"dash dash at script end", "SELECT 1 --", []string{"SELECT 1"}},
		{"single dash", "SELECT 1-1;-1;", []string{"SELECT 1-1", "-1"}},
		{"hash comment in the middle", "SELECT 1 # c;\n, 2;", []string{"SELECT 1 # c;\n, 2"}},
		{"slash without star", "SELECT 4/2;", []string{"SELECT 4/2"}},
		{"comment star slash needs both", "/*/ ; */SELECT 1;", []string{"SELECT 1"}},

		{"executable comments kept", "/*!40101 SET NAMES utf8mb4 */;\n/*M!100100 SET x=1 */;\n", []string{"/*!40101 SET NAMES utf8mb4 */", "/*M!100100 SET x=1 */"}},
		{"executable comment with quoted delimiter", "/*!50003 SET @a=';' */;", []string{"/*!50003 SET @a=';' */"}},
		{"delimiter inside executable comment ends statement", "/*!50003 SET a=1; SET b=2 */;", []string{"/*!50003 SET a=1", "SET b=2 */"}},
		{"M without bang is a comment", "/*M x; */SELECT 1;", []string{"SELECT 1"}},

		{"delimiter block with trigger", "DELIMITER ;;\n" +
			"CREATE TRIGGER `t_bi` BEFORE INSERT ON `t` FOR EACH ROW BEGIN\n  SET NEW.a = 1;\n  SET NEW.b = ';;';\nEND ;;\n" +
			"DELIMITER ;\nSELECT 1;\n",
			[]string{"CREATE TRIGGER `t_bi` BEFORE INSERT ON `t` FOR EACH ROW BEGIN\n  SET NEW.a = 1;\n  SET NEW.b = ';;';\nEND", "SELECT 1"}},
		{"lower case delimiter dollars", "delimiter $$\nCREATE PROCEDURE p() BEGIN SELECT 1; END$$\ndelimiter ;\nSELECT 2;",
			[]string{"CREATE PROCEDURE p() BEGIN SELECT 1; END", "SELECT 2"}},
		{"delimiter rest of line ignored", "DELIMITER // extra words\nSELECT 1//SELECT 2//", []string{"SELECT 1", "SELECT 2"}},
		{"delimiter quoted", "DELIMITER '$$'\nSELECT 1$$", []string{"SELECT 1"}},
		{"delimiter after comment lines", "/* c */\n-- d\n  DELIMITER ;;\nSELECT 1;;", []string{"SELECT 1"}},
		{"delimiter after byte order mark", "\xef\xbb\xbfDELIMITER ;;\nSELECT 1;;", []string{"SELECT 1"}},
		{"delimiter at script end", "SELECT 1;\nDELIMITER ;;", []string{"SELECT 1"}},
		{"delimiter partial match", "DELIMITER ;;\nSELECT 1; SELECT ';;';;\n", []string{"SELECT 1; SELECT ';;'"}},
		{"delimiter word must stand alone", "DELIMITERS;", []string{"DELIMITERS"}},
		{"delimiter word inside a statement", "SELECT 1 DELIMITER ;;", []string{"SELECT 1 DELIMITER"}},
		{"delimiter starting with a comment byte", "DELIMITER //\nSELECT 1 // /* c */ SELECT 2//", []string{"SELECT 1", "SELECT 2"}},

		{"crlf line endings", "SELECT 1;\r\n-- c\r\nSELECT\r\n 2;\r\n", []string{"SELECT 1", "SELECT\r\n 2"}},
		{"crlf delimiter lines", "DELIMITER ;;\r\nSELECT 1;;\r\nDELIMITER ;\r\nSELECT 2;\r\n", []string{"SELECT 1", "SELECT 2"}},
		{"utf8 in quotes and identifiers", "INSERT INTO `tëst;` VALUES ('日本語;','😀\\'');", []string{"INSERT INTO `tëst;` VALUES ('日本語;','😀\\'')"}},
		{"binary bytes in quotes", "SELECT '\x00\xff\xfe;\x80\\'\x1a', \"\x00;\";", []string{"SELECT '\x00\xff\xfe;\x80\\'\x1a', \"\x00;\""}},
		{"backslash outside quotes escapes delimiter", `SELECT \;1;`, []string{`SELECT \;1`}},
		{"backslash before newline is plain", "SELECT 1 \\\n;", []string{"SELECT 1 \\"}},
		{"byte order mark skipped", "\xef\xbb\xbfSELECT 1;", []string{"SELECT 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitAll(t, []byte(tt.script))
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Split(%q)\n got %q\nwant %q", tt.script, got, tt.want)
			}
		})
	}
}

func TestSplitOffsets(t *testing.T) {
	script := "\xef\xbb\xbf-- x\nSELECT 1;\r\n/* c */ SELECT 'é';\nDELIMITER $$\nSELECT 3 $$\n\tSELECT 4"
	want := []Statement{
		{[]byte("SELECT 1"), 8},
		{[]byte("SELECT 'é'"), 27},
		{[]byte("SELECT 3"), 53},
		{[]byte("SELECT 4"), 66},
	}
	var got []Statement
	if err := Split([]byte(script), func(st Statement) error {
		got = append(got, st)
		return nil
	}); err != nil {
		t.Fatalf("Split: %v", err)
	}
	if !slices.EqualFunc(got, want, func(a, b Statement) bool {
		return a.Offset == b.Offset && bytes.Equal(a.Text, b.Text)
	}) {
		for _, st := range got {
			t.Errorf("got statement at byte %d: %q", st.Offset, st.Text)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   []string // statements before the error
		msg    string
	}{
		{"unterminated single quote", "SELECT 1;\nSELECT 'abc;", []string{"SELECT 1"}, "sqlscript: malformed script: unterminated ' quote starting at byte 17"},
		{"unterminated double quote", `SELECT "a\"`, nil, `unterminated " quote starting at byte 7`},
		{"unterminated backtick", "SELECT `a``", nil, "unterminated ` quote starting at byte 10"},
		{"backslash at end inside quote", `SELECT 'a\`, nil, "unterminated ' quote starting at byte 7"},
		{"unterminated comment", "SELECT 1; /* x */ /* y;", []string{"SELECT 1"}, "unterminated /* comment starting at byte 18"},
		{"delimiter without argument", "SELECT 1;\nDELIMITER \nSELECT 2;", []string{"SELECT 1"}, "DELIMITER without a delimiter at byte 10"},
		{"delimiter at end without argument", "delimiter", nil, "DELIMITER without a delimiter at byte 0"},
		{"delimiter with unterminated quote", "DELIMITER '$$\n", nil, "DELIMITER without a delimiter at byte 0"},
		{"delimiter with backslash", "DELIMITER a\\b\n", nil, "DELIMITER with a backslash at byte 0"},
		{"delimiter after a comment on its line", "/* c */ DELIMITER ;;\nSELECT 1;;", nil, "DELIMITER not at the start of a line at byte 8"},
		{"delimiter after a statement on its line", "SELECT 1; DELIMITER ;;\nSELECT 2;;", []string{"SELECT 1"}, "DELIMITER not at the start of a line at byte 10"},
		{"delimiter too long", "DELIMITER 0123456789abcdef\n", nil, "DELIMITER longer than 15 bytes at byte 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := splitAll(t, []byte(tt.script))
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Split error %v, want one wrapping ErrSyntax", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Split error %q, want it to contain %q", err, tt.msg)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("statements before the error %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSplitStopsAtCallbackError(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := Split([]byte("SELECT 1;SELECT 2;SELECT 3"), func(Statement) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Errorf("Split returned %v after %d calls, want %v after 2", err, calls, stop)
	}
}

func TestSplitGolden(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("testdata", "split", "sample.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n := 0
	if err := Split(script, func(st Statement) error {
		n++
		fmt.Fprintf(&out, "-- statement %d at byte %d", n, st.Offset)
		if table, rows, ok := Rows(st.Text); ok {
			fmt.Fprintf(&out, ", %d rows into %s", rows, table)
		}
		fmt.Fprintf(&out, "\n%s\n\n", st.Text)
		return nil
	}); err != nil {
		t.Fatalf("Split: %v", err)
	}
	golden := filepath.Join("testdata", "split", "sample.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./restore -run Golden -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("statements of sample.sql differ from %s (rerun with -update if the change is intended):\n%s", golden, out.Bytes())
	}
}

func TestRows(t *testing.T) {
	tests := []struct {
		name  string
		stmt  string
		table string
		rows  int
		ok    bool
	}{
		{"with column list", "INSERT INTO `t` (`a`,`b`) VALUES (1,'x'),(2,'y')", "t", 2, true},
		{"without column list", "INSERT INTO `t` VALUES (1)", "t", 1, true},
		{"doubled backticks", "INSERT INTO `a``b` (`c``d`,`e,)`) VALUES (1,2)", "a`b", 1, true},
		{"utf8 table", "INSERT INTO `tëst 日本` VALUES (1)", "tëst 日本", 1, true},
		{"quotes with parens and commas", "INSERT INTO `t` VALUES ('a),(b',\"c)\"),(')')", "t", 2, true},
		{"escaped and doubled quotes", `INSERT INTO ` + "`t`" + ` VALUES ('it\'s'),('x''y'),('\\'),('\\\'')`, "t", 4, true},
		{"literal kinds", "INSERT INTO `t` VALUES (0x0AFF,_binary 0xDEAD,b'0101',NULL,-1.5e-3,+2,_utf8mb4'x',X'00',''),(1,2,3,4,5,6,7,8,9)", "t", 2, true},
		{"binary bytes in a string", "INSERT INTO `t` VALUES ('\x00\xff(\\''),(1)", "t", 2, true},
		{"newlines and lower case", "insert into `t`\n(`a`)\nvalues\n(1) ,\r\n( 2 )\n", "t", 2, true},
		{"no spaces around tuples", "INSERT INTO `t`(`a`)VALUES(1),(2),(3)", "t", 3, true},
		{"empty tuple", "INSERT INTO `t` VALUES ()", "t", 1, true},
		{"nested parens", "INSERT INTO `t` VALUES ((1)),(2)", "t", 2, true},

		{"empty", "", "", 0, false},
		{"select", "SELECT 1", "", 0, false},
		{"replace", "REPLACE INTO `t` VALUES (1)", "", 0, false},
		{"unquoted table", "INSERT INTO t VALUES (1)", "", 0, false},
		{"qualified table", "INSERT INTO `db`.`t` VALUES (1)", "", 0, false},
		{"empty table name", "INSERT INTO `` VALUES (1)", "", 0, false},
		{"unterminated table name", "INSERT INTO `t VALUES (1)", "", 0, false},
		{"keyword runs on", "INSERT INTOX `t` VALUES (1)", "", 0, false},
		{"missing space", "INSERT INTO`t` VALUES (1)", "", 0, false},
		{"no tuples", "INSERT INTO `t` VALUES", "", 0, false},
		{"trailing comma", "INSERT INTO `t` VALUES (1),", "", 0, false},
		{"missing comma", "INSERT INTO `t` VALUES (1) (2)", "", 0, false},
		{"unclosed tuple", "INSERT INTO `t` VALUES (1", "", 0, false},
		{"unbalanced parens", "INSERT INTO `t` VALUES ((1)", "", 0, false},
		{"unterminated string", "INSERT INTO `t` VALUES ('x)", "", 0, false},
		{"escaped closing quote", `INSERT INTO ` + "`t`" + ` VALUES ('x\')`, "", 0, false},
		{"trailing delimiter", "INSERT INTO `t` VALUES (1);", "", 0, false},
		{"on duplicate key", "INSERT INTO `t` VALUES (1) ON DUPLICATE KEY UPDATE a=1", "", 0, false},
		{"comment in tuple", "INSERT INTO `t` VALUES (1/*)*/)", "", 0, false},
		{"bad column list", "INSERT INTO `t` (`a` VALUES (1)", "", 0, false},
		{"unquoted column", "INSERT INTO `t` (a) VALUES (1)", "", 0, false},
		{"select instead of values", "INSERT INTO `t` SELECT 1", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, rows, ok := Rows([]byte(tt.stmt))
			if table != tt.table || rows != tt.rows || ok != tt.ok {
				t.Errorf("Rows(%q) = %q, %d, %v; want %q, %d, %v", tt.stmt, table, rows, ok, tt.table, tt.rows, tt.ok)
			}
		})
	}
}

// endsWithEscape reports whether text ends with a backslash that escapes
// whatever follows it (outside quotes, as Split sees it).
func endsWithEscape(text []byte) bool {
	n := 0
	for n < len(text) && text[len(text)-1-n] == '\\' {
		n++
	}
	return n%2 == 1
}

// FuzzSplit seeds are under testdata/fuzz/FuzzSplit.
func FuzzSplit(f *testing.F) {
	f.Fuzz(func(t *testing.T, script []byte) {
		texts, err := splitAll(t, script)
		for _, s := range texts {
			Rows([]byte(s)) // must not panic
		}
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Split error %v does not wrap ErrSyntax", err)
			}
			return
		}
		// Re-joining the statements with the default delimiter gives them
		// back, unless the script changed the delimiter (a statement may
		// then hold a bare ";") or a statement ends in a backslash that would
		// escape the ";".
		if bytes.Contains(bytes.ToLower(script), []byte("delimiter")) {
			return
		}
		var joined []byte
		for _, s := range texts {
			if endsWithEscape([]byte(s)) {
				return
			}
			joined = append(joined, s...)
			joined = append(joined, ";\n"...)
		}
		if bytes.HasPrefix(joined, []byte("\xef\xbb\xbf")) {
			return // a byte order mark is skipped only at the start
		}
		again, err := splitAll(t, joined)
		if err != nil {
			t.Fatalf("Split of re-joined statements %q: %v", joined, err)
		}
		if !slices.Equal(again, texts) {
			t.Fatalf("re-joined statements split into\n%q\nwant\n%q", again, texts)
		}
	})
}

// quoteString writes s as a single-quoted SQL string the way lms-backup
// does, escaping with backslashes.
func quoteString(b []byte, s string) []byte {
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b = append(b, `\0`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case 0x1a:
			b = append(b, `\Z`...)
		case '\\', '\'', '"':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return append(b, '\'')
}

// quoteIdent writes name as a backtick-quoted identifier.
func quoteIdent(b []byte, name string) []byte {
	b = append(b, '`')
	b = append(b, strings.ReplaceAll(name, "`", "``")...)
	return append(b, '`')
}

// insertStatement builds an extended INSERT as lms-backup writes it, with
// rows tuples made of the given values.
func insertStatement(table, str string, blob []byte, num int64, rows int) []byte {
	b := []byte("INSERT INTO ")
	b = quoteIdent(b, table)
	b = append(b, " (`id`,"...)
	b = quoteIdent(b, "col "+str)
	b = append(b, ",`blob`,`bin`,`bits`,`nothing`) VALUES "...)
	for i := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '(')
		b = strconv.AppendInt(b, num+int64(i), 10)
		b = append(b, ',')
		b = quoteString(b, str)
		b = append(b, ',')
		if len(blob) == 0 {
			b = append(b, "''"...)
		} else {
			b = append(b, "0x"...)
			b = hex.AppendEncode(b, blob)
		}
		b = append(b, ",_binary "...)
		b = quoteString(b, string(blob))
		b = append(b, ",b'"...)
		b = strconv.AppendUint(b, uint64(num)&0xff, 2)
		b = append(b, "',NULL)"...)
	}
	return b
}

// FuzzRows seeds are under testdata/fuzz/FuzzRows.
func FuzzRows(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte, table, str string, blob []byte, num int64, rows int) {
		if got, n, ok := Rows(raw); ok && (got == "" || n < 1) {
			t.Fatalf("Rows(%q) = %q, %d, true", raw, got, n)
		}
		if rows < 0 {
			rows = -(rows + 1)
		}
		rows = 1 + rows%64
		stmt := insertStatement(table, str, blob, num, rows)
		gotTable, gotRows, ok := Rows(stmt)
		if table == "" {
			if ok {
				t.Fatalf("Rows(%q) accepted an empty table name", stmt)
			}
			return
		}
		if !ok || gotTable != table || gotRows != rows {
			t.Fatalf("Rows(%q) = %q, %d, %v; want %q, %d, true", stmt, gotTable, gotRows, ok, table, rows)
		}
		// Split sees the statement as one, whatever its values hold.
		texts, err := splitAll(t, append(stmt, ";\n"...))
		if err != nil || len(texts) != 1 || texts[0] != string(stmt) {
			t.Fatalf("Split(%q) = %q, %v; want the statement back", stmt, texts, err)
		}
	})
}

// benchScript returns about size bytes of extended INSERTs of about 256 KiB
// each, like a table dump.
func benchScript(size int) []byte {
	var b []byte
	row := 0
	for len(b) < size {
		start := len(b)
		b = append(b, "INSERT INTO `users` (`id`,`name`,`bio`,`avatar`,`score`,`deleted_at`) VALUES "...)
		for first := true; len(b)-start < 256<<10 && len(b) < size; first = false {
			if !first {
				b = append(b, ',')
			}
			b = append(b, '(')
			b = strconv.AppendInt(b, int64(row), 10)
			b = append(b, ",'O\\'Brien "...)
			b = append(b, "Zoë 日本"[row%3:]...)
			b = append(b, "','Line one;\\nline two with \\\"quotes\\\" and (parens), -- not a comment',0x89504E470D0A1A0A0000000D49484452,"...)
			b = strconv.AppendFloat(b, float64(row)*1.25, 'f', 2, 64)
			b = append(b, ",NULL)"...)
			row++
		}
		b = append(b, ";\n"...)
	}
	return b
}

func BenchmarkSplit(b *testing.B) {
	script := benchScript(4 << 20)
	n := 0
	fn := func(Statement) error { n++; return nil }
	b.SetBytes(int64(len(script)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Split(script, fn); err != nil {
			b.Fatal(err)
		}
	}
	if n == 0 {
		b.Fatal("no statements")
	}
}

func BenchmarkRows(b *testing.B) {
	var stmts [][]byte
	if err := Split(benchScript(4<<20), func(st Statement) error {
		stmts = append(stmts, st.Text)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, s := range stmts {
		size += len(s)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range stmts {
			if _, _, ok := Rows(s); !ok {
				b.Fatalf("Rows rejected %.80q", s)
			}
		}
	}
}
