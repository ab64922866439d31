package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"lms-backup/internal/testdb"
)

// TestLeastPrivilege dumps and restores the torture fixture as users with
// only the grants the README lists: the parallel dump still gets its
// snapshot, and the atomic restore still swaps.
func TestLeastPrivilege(t *testing.T) {
	srv := testdb.Get(t)
	src := loadFixture(t, srv, "torture", "torture.sql")
	dst := srv.CreateDB(t, "leastpriv")
	srv.Exec(t, "",
		"CREATE USER lp_backup@localhost IDENTIFIED BY 'b-pw'",
		"GRANT SELECT, SHOW VIEW, TRIGGER, EVENT ON `"+src+"`.* TO lp_backup@localhost",
		"GRANT RELOAD ON *.* TO lp_backup@localhost",
		"GRANT SELECT ON mysql.proc TO lp_backup@localhost",
		"CREATE USER lp_restore@localhost IDENTIFIED BY 'r-pw'",
		"GRANT ALL ON `"+dst+"`.* TO lp_restore@localhost",
		"GRANT ALL ON `lms\\_restore\\_%`.* TO lp_restore@localhost",
		"GRANT SET USER ON *.* TO lp_restore@localhost",
		// With a binary log, creating a function needs SUPER or this.
		"SET GLOBAL log_bin_trust_function_creators = 1")
	t.Cleanup(func() {
		srv.Exec(t, "", "DROP USER lp_backup@localhost", "DROP USER lp_restore@localhost", "SET GLOBAL log_bin_trust_function_creators = 0")
	})

	file := filepath.Join(t.TempDir(), "lp.sql.zst")
	r := run(t, nil, []string{"MYSQL_PWD=b-pw"}, "dump", "--socket", srv.Config.Addr, "--user", "lp_backup", "-D", src, "-o", file, "--threads", "2")
	if r.code != 0 {
		t.Fatalf("dump as lp_backup: exit %d\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "one connection") {
		t.Errorf("the dump fell back to one connection:\n%s", r.stderr)
	}
	if v := mustRun(t, "verify", file); !strings.Contains(v.stdout, "backup-stage x 2") {
		t.Errorf("verify: %s", v.stdout)
	}
	r = run(t, nil, []string{"MYSQL_PWD=r-pw"}, "--quiet", "restore", "--socket", srv.Config.Addr, "--user", "lp_restore", "-D", dst, file)
	if r.code != 0 {
		t.Fatalf("restore as lp_restore: exit %d\n%s", r.code, r.stderr)
	}
	compareDatabases(t, srv, src, dst)
}
