package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lms-backup/internal/testdb"
)

// bin is the lms-backup binary under test, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lms-backup-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "lms-backup")
	if out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build lms-backup: %v\n%s", err, out)
		os.Exit(1)
	}
	code := testdb.Run(m)
	stopS3()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs the binary with args; env entries are added to the environment.
func run(t *testing.T, stdin io.Reader, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// mustRun runs the binary and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := run(t, nil, nil, args...)
	if r.code != 0 {
		t.Fatalf("lms-backup %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// connArgs points the binary at the test server.
func connArgs(srv *testdb.Server) []string {
	return []string{"--dsn", srv.DSN("")}
}

// client runs the stock mariadb client on database db with stdin.
func client(t *testing.T, srv *testdb.Server, db string, stdin io.Reader) {
	t.Helper()
	args := append(srv.ClientArgs(), "--max-allowed-packet=1G", db)
	cmd := exec.Command("mariadb", args...)
	cmd.Stdin = stdin
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mariadb %s: %v\n%s", db, err, out)
	}
}

// loadFixture creates a database from an SQL file in testdata with the stock client.
func loadFixture(t *testing.T, srv *testdb.Server, prefix, file string) string {
	t.Helper()
	db := srv.CreateDB(t, prefix)
	f, err := os.Open(filepath.Join("..", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	client(t, srv, db, f)
	return db
}

// rowMap runs a query returning one row and gives it by column name.
func rowMap(t *testing.T, db *sql.DB, query string) map[string]string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		t.Fatalf("%s: no row", query)
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for i, c := range cols {
		m[c] = fmt.Sprintf("%v:%s", vals[i].Valid, vals[i].String)
	}
	return m
}

func names(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		out = append(out, a+"\t"+b)
	}
	return out
}

func ident(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// compareDatabases fails the test unless dst holds exactly what src holds:
// the same objects, identical SHOW CREATE output, identical table checksums.
func compareDatabases(t *testing.T, srv *testdb.Server, src, dst string) {
	t.Helper()
	a, b := srv.Open(t, src), srv.Open(t, dst)
	const objects = `SELECT 'TABLE', CONCAT(TABLE_TYPE, '|', TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?
		UNION ALL SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?
		UNION ALL SELECT 'TRIGGER', TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?
		UNION ALL SELECT 'EVENT', EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?
		ORDER BY 1, 2`
	srcObjs := names(t, a, objects, src, src, src, src)
	dstObjs := names(t, b, objects, dst, dst, dst, dst)
	if strings.Join(srcObjs, "\n") != strings.Join(dstObjs, "\n") {
		t.Fatalf("objects differ:\nsource:\n%s\nrestored:\n%s", strings.Join(srcObjs, "\n"), strings.Join(dstObjs, "\n"))
	}
	if len(srcObjs) == 0 {
		t.Fatal("the source database is empty: nothing was compared")
	}
	for _, o := range srcObjs {
		kind, name, _ := strings.Cut(o, "\t")
		var show []string
		switch kind {
		case "TABLE":
			typ, tname, _ := strings.Cut(name, "|")
			switch typ {
			case "VIEW":
				show = []string{"SHOW CREATE VIEW " + ident(tname)}
			case "SEQUENCE":
				show = []string{"SHOW CREATE SEQUENCE " + ident(tname), "SELECT * FROM " + ident(tname)}
			default:
				show = []string{"SHOW CREATE TABLE " + ident(tname), "CHECKSUM TABLE " + ident(tname) + " EXTENDED"}
			}
		default:
			show = []string{"SHOW CREATE " + kind + " " + ident(name)}
		}
		for _, q := range show {
			ma, mb := rowMap(t, a, q), rowMap(t, b, q)
			delete(ma, "Created")
			delete(mb, "Created")
			if strings.HasPrefix(q, "CHECKSUM") {
				ma["Table"], mb["Table"] = "", ""
			}
			// The server qualifies a DEFAULT's sequence with its database:
			// each copy must name its own.
			// So does a view's text around JSON_TABLE.
			for _, col := range []string{"Create Table", "Create View"} {
				if c, ok := ma[col]; ok {
					ma[col] = strings.ReplaceAll(c, ident(src)+".", "`SELF`.")
					mb[col] = strings.ReplaceAll(mb[col], ident(dst)+".", "`SELF`.")
				}
			}
			if fmt.Sprint(ma) != fmt.Sprint(mb) {
				t.Errorf("%s differs:\nsource:   %v\nrestored: %v", q, ma, mb)
			}
		}
	}
}

// decompress returns a command line that turns a dump file into SQL text.
func decompressor(path string) []string {
	switch {
	case strings.HasSuffix(path, ".zst"):
		return []string{"zstd", "-dc", path}
	case strings.HasSuffix(path, ".gz"):
		return []string{"gzip", "-dc", path}
	}
	return []string{"cat", path}
}

// TestRoundTrip dumps the torture fixture and restores it both with
// lms-backup and with the stock client, under every compression.
func TestRoundTrip(t *testing.T) {
	srv := testdb.Get(t)
	src := loadFixture(t, srv, "torture", "torture.sql")
	// The default threads, and three readers with chunks small enough to
	// cut every table with a key into several (the torture tables' keys
	// are of many types).
	for _, tt := range []struct {
		name, ext string
		extra     []string
	}{
		{".sql.zst", ".sql.zst", nil},
		{".sql.gz", ".sql.gz", nil},
		{".sql", ".sql", nil},
		{"chunked .sql.zst", ".sql.zst", []string{"--threads", "3", "--chunk-rows", "1000"}},
	} {
		ext := tt.ext
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "backup"+ext)
			mustRun(t, append(append([]string{"--quiet", "dump", "-D", src, "-o", out}, tt.extra...), connArgs(srv)...)...)
			st, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("dump file mode %v, want 0600", st.Mode().Perm())
			}
			v := mustRun(t, "verify", out)
			if !strings.Contains(v.stdout, "OK") || !strings.Contains(v.stdout, "60046 rows") {
				t.Errorf("verify said %q", v.stdout)
			}

			t.Run("lms-backup restore", func(t *testing.T) {
				dst := srv.CreateDB(t, "restored")
				mustRun(t, append(append([]string{"--quiet", "restore", "--threads", "2", "-D", dst}, connArgs(srv)...), out)...)
				compareDatabases(t, srv, src, dst)
			})
			if ext == ".sql" {
				t.Run("lms-backup restore --in-place --threads 1", func(t *testing.T) {
					dst := srv.CreateDB(t, "inplace")
					mustRun(t, append(append([]string{"--quiet", "restore", "--in-place", "--threads", "1", "-D", dst}, connArgs(srv)...), out)...)
					compareDatabases(t, srv, src, dst)
				})
			}
			t.Run("stock client", func(t *testing.T) {
				dst := srv.CreateDB(t, "client")
				argv := decompressor(out)
				text, err := exec.Command(argv[0], argv[1:]...).Output()
				if err != nil {
					t.Fatalf("%v: %v", argv, err)
				}
				client(t, srv, dst, bytes.NewReader(text))
				compareDatabases(t, srv, src, dst)
			})
		})
	}
}

// TestRestoreFromStdin restores a dump piped on stdin into a database the
// restore creates, with the definers stripped.
func TestRestoreFromStdin(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "small")
	srv.Exec(t, src,
		"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))",
		"INSERT INTO t VALUES (1, 'a'), (2, NULL)",
		"CREATE VIEW v AS SELECT id FROM t")
	out := filepath.Join(t.TempDir(), "small.sql.gz")
	mustRun(t, append([]string{"--quiet", "dump", "--definer", "strip", "-D", src, "-o", out}, connArgs(srv)...)...)
	text, err := exec.Command("gzip", "-dc", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(text, []byte("DEFINER=")) {
		t.Error("--definer strip left a DEFINER clause in the dump")
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dst := fmt.Sprintf("created_%d", time.Now().UnixNano())
	t.Cleanup(func() { srv.Exec(t, "", "DROP DATABASE IF EXISTS "+ident(dst)) })
	r := run(t, f, nil, append(append([]string{"--quiet", "restore", "--create-database", "-D", dst}, connArgs(srv)...), "-")...)
	if r.code != 0 {
		t.Fatalf("restore from stdin: exit %d: %s", r.code, r.stderr)
	}
	var n int
	if err := srv.Open(t, dst).QueryRow("SELECT COUNT(*) FROM v").Scan(&n); err != nil || n != 2 {
		t.Fatalf("restored view counts %d rows (%v), want 2", n, err)
	}
}

// mustScan scans one row into dest and fails the test when the query or
// the scan fails: a check must not pass because its own query did not run.
func mustScan(t testing.TB, row *sql.Row, dest ...any) {
	t.Helper()
	if err := row.Scan(dest...); err != nil {
		t.Fatalf("query: %v", err)
	}
}
