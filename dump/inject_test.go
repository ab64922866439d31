package dump_test

import (
	"bytes"
	"strings"
	"testing"

	"lms-backup/dump"
	"lms-backup/dumpfile/sqlscript"
	"lms-backup/internal/sqlident"
	"lms-backup/schema"
)

// statements splits text as a restore does (sqlscript.Split, the splitter
// that lms-backup restore and verify use, which follows the mariadb
// client) and returns the statements.
func statements(t *testing.T, text []byte) []string {
	t.Helper()
	var out []string
	err := sqlscript.Split(text, func(s sqlscript.Statement) error {
		out = append(out, string(s.Text))
		return nil
	})
	if err != nil {
		t.Fatalf("split: %v\n%s", err, text)
	}
	return out
}

func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
		t.Fatalf("%s: a restore would run\n%q\nwant\n%q", what, got, want)
	}
}

// FuzzNamesCannotInject: whatever bytes a table's, column's or object's
// name holds (newlines, */, --, #, quotes, backticks, backslashes, NUL),
// the dump text around it splits into exactly the statements the dump
// meant, each naming the object as it is: no byte of a name ends a
// comment, a quote or a statement early.
func FuzzNamesCannotInject(f *testing.F) {
	for _, s := range []string{"t", "x\nCREATE DATABASE injected;\n#", "*/ DROP DATABASE mysql; /*", "a`b", "--", "-- x", "#",
		"\\", "'", "\"", ";", "\r", "\x00", "DELIMITER ;;", "x\nDELIMITER //\n", "`; DROP TABLE x; --", "\\'; --", "é ق 😀"} {
		f.Add(s, "c")
		f.Add("t", s)
	}
	f.Fuzz(func(t *testing.T, name, col string) {
		q, qc := sqlident.Quote(name), sqlident.Quote(col)
		create := "CREATE TABLE " + q + " (\n  " + qc + " int(11) DEFAULT NULL\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
		same(t, "schema frame", statements(t, schema.AppendTableSchema(nil, name, create)), []string{"DROP TABLE IF EXISTS " + q, create})

		for _, mode := range []string{"NO_AUTO_VALUE_ON_ZERO", "NO_BACKSLASH_ESCAPES", "ANSI_QUOTES", "ORACLE"} {
			for _, kind := range []string{"PROCEDURE", "TRIGGER", "EVENT", "VIEW"} {
				checkObject(t, kind, name, q, qc, mode)
			}
		}

		header := statements(t, dump.HeaderText(name))
		for _, s := range header {
			if !strings.HasPrefix(s, "SET ") && !strings.HasPrefix(s, "/*M!101100 SET ") {
				t.Fatalf("header frame runs %q", s)
			}
		}
		if bytes.Contains(dump.HeaderText(name), []byte("\nDROP DATABASE")) {
			t.Fatal("the server version's newline reached the header's text")
		}
	})
}

// checkObject checks the text that recreates an object of kind named
// name (quoted q; a column quoted qc) created under sql_mode mode.
func checkObject(t *testing.T, kind, name, q, qc, mode string) {
	t.Helper()
	// A string literal as the server keeps it under mode: a backslash is
	// an escape unless NO_BACKSLASH_ESCAPES.
	lit := `'it''s \\ \''`
	if mode == "NO_BACKSLASH_ESCAPES" {
		lit = `'C:\data\'`
	}
	var body string
	switch kind {
	case "PROCEDURE":
		body = "CREATE DEFINER=`root`@`localhost` PROCEDURE " + q + "()\nBEGIN\n  SELECT " + qc + ", " + lit + " FROM " + q + ";\nEND"
	case "TRIGGER":
		body = "CREATE DEFINER=`root`@`localhost` TRIGGER " + q + " BEFORE INSERT ON " + q + " FOR EACH ROW SET NEW." + qc + " = 1"
	case "EVENT":
		body = "CREATE DEFINER=`root`@`localhost` EVENT " + q + " ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM " + q
	case "VIEW":
		body = "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW " + q + " AS select " + qc + " AS " + qc + " from " + q
	}
	got := statements(t, objectText(kind, name, body, mode))
	want := []string{"SET SESSION character_set_client = utf8mb4, collation_connection = 'utf8mb4_general_ci', sql_mode = '" + mode + "'",
		"DROP " + kind + " IF EXISTS " + q, body}
	same(t, strings.ToLower(kind)+" under "+mode, got, want)
}

// objectText is the text that recreates one object, created by a utf8mb4
// client under sql_mode mode.
func objectText(kind, name, create, mode string) []byte {
	o := schema.Definition{Kind: kind, Name: name, Create: create, SQLMode: mode, Charset: "utf8mb4", Collate: "utf8mb4_general_ci"}
	return schema.AppendObject(nil, o, create, func(string, ...any) {})
}
