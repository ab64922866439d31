package sqlscript

import (
	"errors"
	"slices"
	"testing"
)

// splitMode splits script with a Splitter starting in mode m and returns
// the statements and the mode at the end.
func splitMode(t testing.TB, m Mode, script string) ([]string, Mode, error) {
	t.Helper()
	sp := Splitter{Mode: m}
	var got []string
	err := sp.Split([]byte(script), func(st Statement) error {
		got = append(got, string(st.Text))
		return nil
	})
	return got, sp.Mode, err
}

// TestSplitSQLMode checks the splits the stock mariadb 10.11 client makes
// (each case was fed to it with --verbose; TestSplitMatchesClient in the
// root package repeats that against the real client).
func TestSplitSQLMode(t *testing.T) {
	for _, tt := range []struct {
		name   string
		start  Mode
		script string
		want   []string
		mode   Mode
	}{
		{"no backslash escapes", 0,
			"SET sql_mode='NO_BACKSLASH_ESCAPES';\nSELECT 'C:\\data\\';\nSELECT 2;\n",
			[]string{"SET sql_mode='NO_BACKSLASH_ESCAPES'", `SELECT 'C:\data\'`, "SELECT 2"}, NoBackslashEscapes},
		{"mode changes within a line", 0,
			"SET sql_mode='NO_BACKSLASH_ESCAPES'; SELECT 'x\\'; SELECT 3;",
			[]string{"SET sql_mode='NO_BACKSLASH_ESCAPES'", `SELECT 'x\'`, "SELECT 3"}, NoBackslashEscapes},
		{"ansi quotes", 0,
			"SET sql_mode='ANSI_QUOTES';\nSELECT 1 AS \"a\\\";\nSELECT 'b\\';';\n",
			[]string{"SET sql_mode='ANSI_QUOTES'", `SELECT 1 AS "a\"`, `SELECT 'b\';'`}, ANSIQuotes},
		{"oracle implies ansi quotes", 0,
			"SET sql_mode='oracle';SELECT \"a\\\";SELECT 1",
			[]string{"SET sql_mode='oracle'", `SELECT "a\"`, "SELECT 1"}, ANSIQuotes},
		{"back to the default", NoBackslashEscapes | ANSIQuotes,
			"SET SESSION character_set_client = utf8mb4, collation_connection = 'utf8mb4_bin', sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00';SELECT 'a\\';'",
			[]string{"SET SESSION character_set_client = utf8mb4, collation_connection = 'utf8mb4_bin', sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+00:00'", `SELECT 'a\';'`}, 0},
		{"the object's own set", 0,
			"SET SESSION character_set_client = utf8mb4, sql_mode = 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES';\nDELIMITER ;;\nCREATE FUNCTION f() RETURNS TEXT RETURN 'C:\\';;\nDELIMITER ;\n",
			[]string{"SET SESSION character_set_client = utf8mb4, sql_mode = 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES'", `CREATE FUNCTION f() RETURNS TEXT RETURN 'C:\'`}, NoBackslashEscapes},
		{"global leaves the session", 0,
			"SET GLOBAL net_read_timeout=30, sql_mode='ANSI_QUOTES';SELECT \"a\\\";\";",
			[]string{"SET GLOBAL net_read_timeout=30, sql_mode='ANSI_QUOTES'", `SELECT "a\";"`}, 0},
		{"executable comment", 0,
			"/*!40101 SET sql_mode='ANSI_QUOTES' */;SELECT \"a\\\";",
			[]string{"/*!40101 SET sql_mode='ANSI_QUOTES' */", `SELECT "a\"`}, ANSIQuotes},
		{"saved and restored", NoBackslashEscapes,
			"SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO';SELECT 'a\\';';SET SQL_MODE=@OLD_SQL_MODE;SELECT 'b\\';",
			[]string{"SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO'", `SELECT 'a\';'`, "SET SQL_MODE=@OLD_SQL_MODE", `SELECT 'b\'`}, NoBackslashEscapes},
		{"a body that sets the mode", 0,
			"CREATE PROCEDURE p() SET sql_mode='NO_BACKSLASH_ESCAPES';SELECT 'a\\';';",
			[]string{"CREATE PROCEDURE p() SET sql_mode='NO_BACKSLASH_ESCAPES'", `SELECT 'a\';'`}, 0},
		{"unknown mode, unambiguous strings", 0,
			"SET sql_mode=@nobody;SELECT 'a\\\\b', \"c\", `d\\`;",
			[]string{"SET sql_mode=@nobody", `SELECT 'a\\b', "c", ` + "`d\\`"}, ModeUnknown},
		{"set statement", 0,
			"SET STATEMENT sql_mode='ANSI_QUOTES' FOR SELECT 1;SELECT 2",
			[]string{"SET STATEMENT sql_mode='ANSI_QUOTES' FOR SELECT 1", "SELECT 2"}, ModeUnknown},
		{"newer version comment", 0,
			"/*!110000 SET sql_mode='ANSI_QUOTES' */;SELECT 2",
			[]string{"/*!110000 SET sql_mode='ANSI_QUOTES' */", "SELECT 2"}, ModeUnknown},
		{"unknown mode name", 0,
			"SET sql_mode='NO_SUCH_MODE';SELECT 2",
			[]string{"SET sql_mode='NO_SUCH_MODE'", "SELECT 2"}, ModeUnknown},
		{"numeric mode", 0,
			"SET sql_mode=4;SELECT 2",
			[]string{"SET sql_mode=4", "SELECT 2"}, ModeUnknown},
		{"known again", ModeUnknown,
			"SET sql_mode='';SELECT 'a\\';';",
			[]string{"SET sql_mode=''", `SELECT 'a\';'`}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, mode, err := splitMode(t, tt.start, tt.script)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("statements\n got %q\nwant %q", got, tt.want)
			}
			if mode != tt.mode {
				t.Errorf("mode at the end %v, want %v", mode, tt.mode)
			}
		})
	}
}

// TestSplitUnknownModeAmbiguous: with the mode unknown, a string that ends
// at another byte under another mode is an error, not a guess.
func TestSplitUnknownModeAmbiguous(t *testing.T) {
	for _, script := range []string{
		"SET sql_mode=@x;SELECT 'a\\';';",
		"SELECT \"a\\\";\";",
		"SET SQL_MODE=DEFAULT;SELECT 'C:\\';",
	} {
		_, _, err := splitMode(t, ModeUnknown, script)
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Split(%q) = %v, want ErrSyntax", script, err)
		}
	}
}

// TestSplitterCarriesState: a Splitter keeps the mode and the delimiter
// from one script to the next, as the client does from line to line.
func TestSplitterCarriesState(t *testing.T) {
	var sp Splitter
	var got []string
	fn := func(st Statement) error { got = append(got, string(st.Text)); return nil }
	if err := sp.Split([]byte("SET sql_mode='NO_BACKSLASH_ESCAPES';\nDELIMITER $$\n"), fn); err != nil {
		t.Fatal(err)
	}
	if sp.Mode != NoBackslashEscapes || sp.Delimiter != "$$" {
		t.Fatalf("state %v %q, want NO_BACKSLASH_ESCAPES and $$", sp.Mode, sp.Delimiter)
	}
	if err := sp.Split([]byte("SELECT 'a\\'$$\nDELIMITER ;\n"), fn); err != nil {
		t.Fatal(err)
	}
	want := []string{"SET sql_mode='NO_BACKSLASH_ESCAPES'", `SELECT 'a\'`}
	if !slices.Equal(got, want) || sp.Delimiter != "" {
		t.Errorf("got %q delimiter %q, want %q and the default", got, sp.Delimiter, want)
	}
}
