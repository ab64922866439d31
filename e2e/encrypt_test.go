package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"lms-backup/cli"
	"lms-backup/internal/testdb"
)

// ageKeys writes a fresh identity and its recipient into dir.
func ageKeys(t *testing.T, dir, name string) (identityFile, recipient string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	identityFile = filepath.Join(dir, name+".key")
	if err := os.WriteFile(identityFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return identityFile, id.Recipient().String()
}

// TestEncryptedDump: a dump encrypted to an age recipient holds no
// plaintext, restores with the identity to identical tables, and is
// refused without it, with a wrong one, or when truncated.
func TestEncryptedDump(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "secret")
	srv.Exec(t, src, "CREATE TABLE borrowers (id INT PRIMARY KEY, national_id CHAR(10), name VARCHAR(50))",
		"INSERT INTO borrowers VALUES (1, '9871234560', 'عبدالله'), (2, '1234509876', 'Layla')")
	dir := t.TempDir()
	idFile, recipient := ageKeys(t, dir, "backup")
	wrongID, _ := ageKeys(t, dir, "other")
	recipFile := filepath.Join(dir, "recipients.txt")
	os.WriteFile(recipFile, []byte("# the backup key\n"+recipient+"\n"), 0o600)

	out := filepath.Join(dir, "secret.sql.zst.age")
	mustRun(t, append([]string{"--quiet", "dump", "-D", src, "-o", out, "--recipients-file", recipFile}, connArgs(srv)...)...)
	data, _ := os.ReadFile(out)
	if !bytes.HasPrefix(data, []byte(ageMagic)) {
		t.Fatal("the dump is not an age file")
	}
	for _, plain := range []string{"CREATE TABLE", "9871234560", "lms-backup"} {
		if bytes.Contains(data, []byte(plain)) {
			t.Errorf("the encrypted dump contains %q in clear", plain)
		}
	}
	truncated := filepath.Join(dir, "truncated.sql.zst.age")
	os.WriteFile(truncated, data[:len(data)-20], 0o600)

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"verify without identity", []string{"verify", out}, cli.ExitUsage, "--identity"},
		{"verify with the wrong identity", []string{"verify", "--identity", wrongID, out}, cli.ExitBadDump, "not one it was encrypted to"},
		{"verify truncated", []string{"verify", "--identity", idFile, truncated}, cli.ExitBadDump, "damaged"},
		{"identity for a plain file", []string{"verify", "--identity", idFile, filepath.Join(dir, "recipients.txt")}, cli.ExitUsage, "not encrypted"},
		{"restore truncated", append(append([]string{"--quiet", "restore", "--create-database", "-D", "never_made", "--identity", idFile}, connArgs(srv)...), truncated), cli.ExitBadDump, "damaged"},
		{".age without recipients", append([]string{"--quiet", "dump", "-D", src, "-o", filepath.Join(dir, "x.sql.age")}, connArgs(srv)...), cli.ExitUsage, "--encrypt-to"},
		{"bad recipient", append([]string{"--quiet", "dump", "-D", src, "-o", filepath.Join(dir, "y.sql.age"), "--encrypt-to", "age1nonsense"}, connArgs(srv)...), cli.ExitUsage, "age1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Fatalf("exit %d, want %d with %q\n%s", r.code, tt.code, tt.want, r.stderr)
			}
		})
	}
	var n int
	mustScan(t, srv.Open(t, "").QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'never_made'"), &n)
	if n != 0 {
		t.Error("a refused restore left its target database behind")
	}

	dst := srv.CreateDB(t, "unsealed")
	mustRun(t, append(append([]string{"--quiet", "restore", "-D", dst, "--identity", idFile}, connArgs(srv)...), out)...)
	compareDatabases(t, srv, src, dst)

	t.Run("nightly folder", func(t *testing.T) {
		night := t.TempDir()
		for i := range 2 {
			if i > 0 {
				time.Sleep(1100 * time.Millisecond) // names have one-second resolution
			}
			mustRun(t, append([]string{"--quiet", "dump", "-D", src, "-o", night + "/", "--encrypt-to", recipient, "--keep", "1"}, connArgs(srv)...)...)
		}
		files, _ := filepath.Glob(filepath.Join(night, src+"-*.sql.zst.age"))
		if len(files) != 1 {
			t.Fatalf("folder holds %v, want one encrypted dump", files)
		}
		mustRun(t, "verify", "--identity", idFile, files[0])
	})
}
