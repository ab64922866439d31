package e2e

import (
	"path/filepath"
	"testing"

	"lms-backup/internal/testdb"
)

// TestCreateDatabaseCharset dumps a database whose default charset and
// collation are not the server's: restore --create-database gives the new
// database the dumped defaults (so its routines keep their "Database
// Collation"), in every mode, unless the options name others.
func TestCreateDatabaseCharset(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "charset_src")
	srv.Exec(t, "", "ALTER DATABASE `"+src+"` CHARACTER SET latin1 COLLATE latin1_german1_ci")
	srv.Exec(t, src, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))", "INSERT INTO t VALUES (1, 'Straße')",
		"CREATE PROCEDURE p() SELECT v FROM t")
	root := srv.Open(t, "")
	var serverCharset, serverCollation string
	if err := root.QueryRow("SELECT @@character_set_server, @@collation_server").Scan(&serverCharset, &serverCollation); err != nil {
		t.Fatal(err)
	}
	if serverCollation == "latin1_german1_ci" {
		t.Fatal("the server's default collation is the source's: the test would prove nothing")
	}
	file := filepath.Join(t.TempDir(), "charset.sql.zst")
	mustRun(t, append([]string{"--quiet", "dump", "-D", src, "-o", file}, connArgs(srv)...)...)

	tests := []struct {
		name               string
		args               []string
		charset, collation string
	}{
		{"staged", nil, "latin1", "latin1_german1_ci"},
		{"in place", []string{"--in-place"}, "latin1", "latin1_german1_ci"},
		{"options override", []string{"--create-database-charset", "utf8mb4", "--create-database-collation", "utf8mb4_unicode_ci"}, "utf8mb4", "utf8mb4_unicode_ci"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := srv.CreateDB(t, "charset_dst")
			srv.Exec(t, "", "DROP DATABASE `"+target+"`")
			mustRun(t, append(append(append([]string{"--quiet", "restore", "--create-database", "-D", target}, tt.args...), connArgs(srv)...), file)...)
			var charset, collation, routine string
			if err := root.QueryRow("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
				target).Scan(&charset, &collation); err != nil {
				t.Fatal(err)
			}
			if charset != tt.charset || collation != tt.collation {
				t.Errorf("database %s has %s/%s, want %s/%s (server default %s/%s)", target, charset, collation, tt.charset, tt.collation, serverCharset, serverCollation)
			}
			if err := root.QueryRow("SELECT DATABASE_COLLATION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_NAME = 'p'",
				target).Scan(&routine); err != nil {
				t.Fatal(err)
			}
			if routine != tt.collation {
				t.Errorf("procedure p has Database Collation %s, want %s", routine, tt.collation)
			}
		})
	}
}
