package e2e

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"lms-backup/internal/testdb"
)

// TestHostileRoundTrip dumps testdata/hostile.sql, a database built the
// way a careless or hostile DBA would (issue 11: names that would inject
// SQL, non-UTF-8 keys, objects under other sql_modes and client charsets,
// delimiters in bodies, views whose names are other views' aliases,
// history, MERGE, packages, a cycled sequence, ENUM error values, keys
// around SPATIAL/FULLTEXT ones), and restores it through every path:
// lms-backup restore (staged, parallel), restore --in-place --threads 1,
// and the stock client. Each copy must equal the source by strictCompare.
func TestHostileRoundTrip(t *testing.T) {
	srv := testdb.Get(t)
	before := databases(t, srv)
	// strictCompare writes to both databases (the triggers' effects), so
	// every restore gets a source of its own, dumped just before.
	dumpFresh := func(t *testing.T, extra []string) (src, out string) {
		src = loadFixture(t, srv, "hostile", "hostile.sql")
		out = filepath.Join(t.TempDir(), "hostile.sql.zst")
		mustRun(t, append(append([]string{"--quiet", "dump", "-D", src, "-o", out}, extra...), connArgs(srv)...)...)
		mustRun(t, "verify", out)
		return src, out
	}
	for _, tt := range []struct {
		name  string
		extra []string
	}{
		{"one connection", []string{"--threads", "1"}},
		{"chunked", []string{"--threads", "3", "--chunk-rows", "1000"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Run("lms-backup restore", func(t *testing.T) {
				src, out := dumpFresh(t, tt.extra)
				dst := srv.CreateDB(t, "hostile_restored")
				mustRun(t, append(append([]string{"--quiet", "restore", "--threads", "2", "-D", dst}, connArgs(srv)...), out)...)
				strictCompare(t, srv, src, dst)
			})
			t.Run("lms-backup restore --in-place --threads 1", func(t *testing.T) {
				src, out := dumpFresh(t, tt.extra)
				dst := srv.CreateDB(t, "hostile_inplace")
				mustRun(t, append(append([]string{"--quiet", "restore", "--in-place", "--threads", "1", "-D", dst}, connArgs(srv)...), out)...)
				strictCompare(t, srv, src, dst)
			})
			t.Run("stock client", func(t *testing.T) {
				src, out := dumpFresh(t, tt.extra)
				dst := srv.CreateDB(t, "hostile_client")
				text, err := exec.Command("zstd", "-dc", out).Output()
				if err != nil {
					t.Fatal(err)
				}
				client(t, srv, dst, bytes.NewReader(text))
				strictCompare(t, srv, src, dst)
			})
		})
	}
	if after := databases(t, srv); !slices.Equal(before, after) {
		t.Errorf("the set of databases changed beyond the test's own:\nbefore %q\nafter  %q", before, after)
	}
}

// databases lists the server's databases other than the tests' own.
func databases(t *testing.T, srv *testdb.Server) []string {
	t.Helper()
	var out []string
	for _, n := range queryStrings(t, srv.Open(t, ""), "SHOW DATABASES") {
		if !strings.Contains(n, "_") || strings.HasPrefix(n, "lms_") || n == "information_schema" || n == "performance_schema" {
			out = append(out, n)
		}
	}
	return out
}

// queryStrings runs a query and returns every row as one tab-joined
// string; NULL is written as \N. A failing query fails the test.
func queryStrings(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		fields := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				fields[i] = `\N`
			} else {
				fields[i] = fmt.Sprintf("%x", []byte(v)) // bytes, not text: no conversion hides a difference
			}
		}
		out = append(out, strings.Join(fields, "\t"))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// strictCompare is compareDatabases and more: every row version of the
// system-versioned tables, every view's rows, what the functions,
// procedures and packages return, the sequences' next values, and what
// the triggers do to a row, each compared as bytes.
func strictCompare(t *testing.T, srv *testdb.Server, src, dst string) {
	t.Helper()
	compareDatabases(t, srv, src, dst)
	a, b := srv.Open(t, src), srv.Open(t, dst)
	a.SetMaxOpenConns(1)
	b.SetMaxOpenConns(1)
	same := func(what string, qa, qb string) {
		t.Helper()
		ra, rb := queryStrings(t, a, qa), queryStrings(t, b, qb)
		slices.Sort(ra)
		slices.Sort(rb)
		if !slices.Equal(ra, rb) {
			t.Errorf("%s differs:\nsource:   %q\nrestored: %q", what, ra, rb)
		}
		if len(ra) == 0 {
			t.Errorf("%s: no rows: nothing was compared", what)
		}
	}
	// History.
	for _, tbl := range queryStrings(t, a, "SELECT HEX(TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'SYSTEM VERSIONED'", src) {
		name := unhex(t, tbl)
		create := queryStrings(t, a, "SHOW CREATE TABLE "+ident(name))[0]
		cols := "*"
		if !strings.Contains(fromHex(t, strings.Split(create, "\t")[1]), "PERIOD FOR SYSTEM_TIME") {
			cols = "*, `row_start`, `row_end`"
		}
		q := "SELECT " + cols + " FROM " + ident(name) + " FOR SYSTEM_TIME ALL"
		same("history of "+name, q, q)
	}
	// Views' rows.
	for _, v := range queryStrings(t, a, "SELECT HEX(TABLE_NAME) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?", src) {
		q := "SELECT * FROM " + ident(unhex(t, v))
		same("rows of view "+unhex(t, v), q, q)
	}
	// Functions without arguments, procedures with one OUT argument, the
	// package's function, the sequences.
	for _, f := range queryStrings(t, a, "SELECT HEX(ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE = 'FUNCTION'", src) {
		q := "SELECT " + ident(unhex(t, f)) + "(), CHARSET(" + ident(unhex(t, f)) + "())"
		same("result of "+unhex(t, f), q, q)
	}
	for _, q := range []string{"CALL `delims`(@s)"} {
		mustExec(t, a, q)
		mustExec(t, b, q)
	}
	same("procedure delims", "SELECT @s", "SELECT @s")
	mustExec(t, a, "SET SESSION sql_mode = 'ORACLE'")
	mustExec(t, b, "SET SESSION sql_mode = 'ORACLE'")
	same("package fees", "SELECT fees.late_fee(200) FROM DUAL", "SELECT fees.late_fee(200) FROM DUAL")
	mustExec(t, a, "SET SESSION sql_mode = DEFAULT")
	mustExec(t, b, "SET SESSION sql_mode = DEFAULT")
	same("sequence ticket", "SELECT NEXTVAL(`ticket`), NEXTVAL(`ticket`)", "SELECT NEXTVAL(`ticket`), NEXTVAL(`ticket`)")
	// Triggers' effects: the same writes, then the same tables.
	for _, q := range []string{
		"INSERT INTO `paths` VALUES (2, 'y')",
		"UPDATE `paths` SET `p` = 'z' WHERE `id` = 1",
		"INSERT INTO `*/ DROP DATABASE mysql; /*` VALUES (8)",
		"INSERT INTO `m_2024` VALUES (9, NULL)",
		"UPDATE `ledger` SET `amount` = 1 WHERE `id` = 3",
	} {
		mustExec(t, a, q)
		mustExec(t, b, q)
	}
	for _, tbl := range []string{"paths", "*/ DROP DATABASE mysql; /*", "m_2024", "m_all"} {
		q := "SELECT * FROM " + ident(tbl)
		same("rows of "+tbl+" after the triggers ran", q, q)
	}
	same("ledger's history after an update", "SELECT COUNT(*) FROM `ledger` FOR SYSTEM_TIME ALL", "SELECT COUNT(*) FROM `ledger` FOR SYSTEM_TIME ALL")
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// unhex reads a name that a query selected as HEX(name) through
// queryStrings, which hex-encodes every field again.
func unhex(t *testing.T, h string) string {
	t.Helper()
	return fromHex(t, fromHex(t, h))
}

func fromHex(t *testing.T, h string) string {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatalf("decode %q: %v", h, err)
	}
	return string(b)
}
