package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"lms-backup/cli"
	"lms-backup/internal/testdb"
)

// shellQuote quotes s for sh -c.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestSummaryOnTerminal: on a terminal (a pseudo-terminal from script(1))
// a run ends with one human line: what, where, how big, how long, peak
// heap. Without a terminal (cron, a pipe) there is no such line.
func TestSummaryOnTerminal(t *testing.T) {
	srv := testdb.Get(t)
	db, _ := smallDump(t, srv)
	out := filepath.Join(t.TempDir(), "tty.sql.zst")
	argv := append([]string{bin, "dump", "-D", db, "-o", out}, connArgs(srv)...)
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = shellQuote(a)
	}
	tty, err := exec.Command("script", "-qec", strings.Join(quoted, " "), "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("script: %v\n%s", err, tty)
	}
	line := regexp.MustCompile(`lms-backup: dumped ` + regexp.QuoteMeta(db) + ` to ` + regexp.QuoteMeta(out) +
		`, [0-9.]+ [KMG]?i?B, 3000 rows, in [0-9.]+m?s, peak heap [0-9.]+ [KMG]iB`)
	if !line.Match(tty) {
		t.Errorf("no summary line on the terminal:\n%q", tty)
	}
	r := mustRun(t, append([]string{"dump", "-D", db, "-o", out}, connArgs(srv)...)...)
	if strings.Contains(r.stderr, "lms-backup: dumped") {
		t.Errorf("a summary line without a terminal:\n%s", r.stderr)
	}
}

// TestMetricsFile: --metrics-file keeps each run's series in one file for
// node_exporter: a dump and a report of one database and a dump of
// another side by side, and a failed dump keeps the success before it.
func TestMetricsFile(t *testing.T) {
	srv := testdb.Get(t)
	db, _ := smallDump(t, srv)
	other := srv.CreateDB(t, "metrics_other")
	srv.Exec(t, other, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
	dir := t.TempDir()
	prom := filepath.Join(dir, "lms.prom")
	mustRun(t, append([]string{"--quiet", "--metrics-file", prom, "dump", "-D", db, "-o", filepath.Join(dir, "a.sql.zst")}, connArgs(srv)...)...)
	mustRun(t, append([]string{"--quiet", "--metrics-file", prom, "dump", "-D", other, "-o", filepath.Join(dir, "b.sql.zst")}, connArgs(srv)...)...)
	// The same dump again, failing: the output folder does not exist.
	r := run(t, nil, nil, append([]string{"--quiet", "--metrics-file", prom, "dump", "-D", db, "-o", filepath.Join(dir, "missing", "c.sql.zst")}, connArgs(srv)...)...)
	if r.code == 0 {
		t.Fatal("the failing dump succeeded")
	}
	data, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	series := func(name, db string) string {
		m := regexp.MustCompile(`(?m)^` + name + `\{command="dump",database="` + regexp.QuoteMeta(db) + `"\} (\S+)$`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("no %s for %s in\n%s", name, db, text)
		}
		return m[1]
	}
	if got := series("lms_backup_last_exit_code", db); got != itoa(r.code) {
		t.Errorf("last exit code %s, want %d", got, r.code)
	}
	if series("lms_backup_last_success_timestamp_seconds", db) == series("lms_backup_last_run_timestamp_seconds", db) {
		t.Error("the failed run overwrote the last success")
	}
	if got := series("lms_backup_rows", other); got != "2" {
		t.Errorf("rows of the other database's dump %s, want 2", got)
	}
	if got := series("lms_backup_last_exit_code", other); got != "0" {
		t.Errorf("the other database's series changed: exit %s", got)
	}
	for _, name := range []string{"lms_backup_duration_seconds", "lms_backup_bytes", "lms_backup_peak_heap_bytes"} {
		if v := series(name, other); v == "0" {
			t.Errorf("%s is 0", name)
		}
	}
}

// TestPrecedence: as with the mysql client, the command line overrides the
// environment: with LMS_DSN set (here to a server that does not exist),
// connection flags on the command line point one run elsewhere.
func TestPrecedence(t *testing.T) {
	srv := testdb.Get(t)
	db, _ := smallDump(t, srv)
	if srv.Config.Net != "unix" {
		t.Fatalf("the test server is not on a unix socket (%s)", srv.Config.Net)
	}
	env := []string{"LMS_DSN=root@unix(/nonexistent/mysqld.sock)/"}
	out := filepath.Join(t.TempDir(), "p.sql.zst")
	r := run(t, nil, env, "--quiet", "dump", "-D", db, "-o", out, "--no-defaults", "--socket", srv.Config.Addr, "--user", srv.Config.User)
	if r.code != 0 {
		t.Fatalf("flags over LMS_DSN: exit %d\n%s", r.code, r.stderr)
	}
	// Without flags LMS_DSN is used (and fails here: it points nowhere).
	r = run(t, nil, env, "--quiet", "dump", "-D", db, "-o", out)
	if r.code != cli.ExitConnect {
		t.Fatalf("LMS_DSN alone: exit %d, want %d\n%s", r.code, cli.ExitConnect, r.stderr)
	}
}

// underTerminal runs the binary with args in a pseudo-terminal (script(1))
// and returns what the terminal showed.
func underTerminal(t *testing.T, args ...string) string {
	t.Helper()
	quoted := []string{shellQuote(bin)}
	for _, a := range args {
		quoted = append(quoted, shellQuote(a))
	}
	out, err := exec.Command("script", "-qec", strings.Join(quoted, " "), "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("script %v: %v\n%q", args, err, out)
	}
	return string(out)
}

// TestProgressOnTerminal: on a terminal, dump, verify and restore draw a
// bar with percent, rate and ETA (dump: of the tables' row estimates;
// verify and restore: of the file's bytes), redrawn in place (\r) and
// cleared at the end; without a terminal nothing of it appears.
func TestProgressOnTerminal(t *testing.T) {
	srv := testdb.Get(t)
	// Big enough that verify, the quickest, runs past the first redraw.
	db := fixtureDB(t, srv, 16)
	file := filepath.Join(t.TempDir(), "p.sql.gz")
	bar := regexp.MustCompile(`\r\x1b\[K\[[= ]{24}\] +[0-9]+% \S+ \S+/s ETA [0-9]+:[0-9]{2}  `)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"dump", append([]string{"dump", "-D", db, "-o", file, "--threads", "1"}, connArgs(srv)...)},
		{"verify", []string{"verify", file}},
		{"restore", append(append([]string{"restore", "-D", srv.CreateDB(t, "progress")}, connArgs(srv)...), file)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shown := underTerminal(t, tc.args...)
			if !bar.MatchString(shown) {
				t.Errorf("no progress bar on the terminal:\n%q", shown)
			}
			if !strings.Contains(shown, "\r\x1b[K") || strings.Count(shown, "ETA") < 1 {
				t.Errorf("the bar is not redrawn in place:\n%q", shown)
			}
		})
	}
	r := run(t, nil, nil, "verify", file)
	if strings.Contains(r.stderr, "ETA") || strings.Contains(r.stdout, "ETA") {
		t.Errorf("a progress bar without a terminal:\n%s%s", r.stdout, r.stderr)
	}
}
