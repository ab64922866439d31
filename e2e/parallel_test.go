package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lms-backup/dumpfile"
	"lms-backup/internal/testdb"
)

// readTrailer reads a dump file to its end and returns its header and
// trailer.
func readTrailer(t *testing.T, path string) (*dumpfile.Header, *dumpfile.Trailer) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := dumpfile.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		if _, err := r.Next(); err == io.EOF {
			return r.Header(), r.Trailer()
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

// dataFrames returns the data frame count of every table in a trailer.
func dataFrames(tr *dumpfile.Trailer) map[string]int {
	m := map[string]int{}
	for _, ts := range tr.Tables {
		m[ts.Name] = ts.DataFrames
	}
	return m
}

// checkIndex reads every frame the trailer's index lists on its own: each
// is the schema frame or the data part of its table it says.
func checkIndex(t *testing.T, path string, tr *dumpfile.Trailer) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, ts := range tr.Tables {
		if ts.Schema == nil || len(ts.Frames) != ts.DataFrames {
			t.Fatalf("table %s: no index in the trailer: %+v", ts.Name, ts)
		}
		fr, err := dumpfile.ReadFrameAt(f, dumpfile.Zstd, ts.Schema[0], ts.Schema[1])
		if err != nil || fr.Info.Kind != dumpfile.KindSchema || fr.Info.Table != ts.Name {
			t.Fatalf("table %s: schema frame at %v: %v %+v", ts.Name, ts.Schema, err, fr)
		}
		for i, ref := range ts.Frames {
			fr, err := dumpfile.ReadFrameAt(f, dumpfile.Zstd, ref[0], ref[1])
			if err != nil || fr.Info.Kind != dumpfile.KindData || fr.Info.Table != ts.Name || fr.Info.Part != i+1 || fr.Info.Rows != ref[2] {
				t.Fatalf("table %s: part %d at %v: %v %+v", ts.Name, i+1, ref, err, fr)
			}
		}
	}
}

// TestParallelSnapshotConsistency commits transfers between accounts (and
// a ledger row and a counter update with each) from other connections
// while a dump with two reading connections reads the tables in chunks:
// the restored copy must be one snapshot, so balances still add up and
// the ledger has as many rows as its counter says.
func TestParallelSnapshotConsistency(t *testing.T) {
	srv := testdb.Get(t)
	db := srv.CreateDB(t, "psnap")
	const accounts, balance = 20000, 1000
	srv.Exec(t, db,
		"CREATE TABLE accounts (id INT PRIMARY KEY, balance DECIMAL(14,2) NOT NULL)",
		"CREATE TABLE ledger (id BIGINT AUTO_INCREMENT PRIMARY KEY, src INT NOT NULL, dst INT NOT NULL, amount DECIMAL(14,2) NOT NULL)",
		"CREATE TABLE counter (id INT PRIMARY KEY, entries INT NOT NULL)",
		fmt.Sprintf("INSERT INTO accounts SELECT seq, %d FROM seq_1_to_%d", balance, accounts),
		"INSERT INTO ledger (src, dst, amount) SELECT seq, seq, 0 FROM seq_1_to_20000",
		"INSERT INTO counter VALUES (1, 20000)",
		"ANALYZE TABLE accounts, ledger")

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var commits atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- transfers(ctx, srv.Open(t, db), w, &commits)
		}()
	}
	for commits.Load() < 20 { // the writers are under way
		time.Sleep(10 * time.Millisecond)
	}
	out := filepath.Join(t.TempDir(), "psnap.sql.zst")
	before := commits.Load()
	r := run(t, nil, nil, append([]string{"--log-level", "debug", "dump", "-D", db, "-o", out, "--threads", "2", "--chunk-rows", "1000"}, connArgs(srv)...)...)
	during := commits.Load() - before
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("transfers: %v", err)
		}
	}
	if r.code != 0 {
		t.Fatalf("dump: exit %d\n%s", r.code, r.stderr)
	}
	if during < 10 {
		t.Fatalf("only %d transfers committed while the dump ran: the test proves nothing", during)
	}
	if !strings.Contains(r.stderr, "commits were blocked") {
		t.Errorf("the time commits were blocked is not logged at debug:\n%s", r.stderr)
	}
	hdr, tr := readTrailer(t, out)
	if hdr.Consistency != "backup-stage x 2" {
		t.Errorf("consistency %q, want backup-stage x 2", hdr.Consistency)
	}
	if n := dataFrames(tr); n["accounts"] < 20 || n["ledger"] < 20 {
		t.Errorf("data frames %v: the tables were not read in chunks of 1000 rows", n)
	}

	dst := srv.CreateDB(t, "psnapcopy")
	mustRun(t, append(append([]string{"--quiet", "restore", "-D", dst}, connArgs(srv)...), out)...)
	conn := srv.Open(t, dst)
	var sum string
	var ledgerRows, entries int
	if err := conn.QueryRow("SELECT SUM(balance) FROM accounts").Scan(&sum); err != nil {
		t.Fatal(err)
	}
	mustScan(t, conn.QueryRow("SELECT COUNT(*) FROM ledger"), &ledgerRows)
	mustScan(t, conn.QueryRow("SELECT entries FROM counter"), &entries)
	if want := fmt.Sprintf("%d.00", accounts*balance); sum != want || ledgerRows != entries {
		t.Fatalf("restored copy is not one snapshot (%d transfers during the dump): balances sum to %s (want %s), ledger %d rows, counter %d",
			during, sum, want, ledgerRows, entries)
	}
	t.Logf("%d transfers committed during the dump; the copy holds %d", during, entries-20000)
}

// transfers moves money between random accounts until ctx ends, each
// transfer one transaction that also writes the ledger and the counter.
func transfers(ctx context.Context, db *sql.DB, seed int, commits *atomic.Int64) error {
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	for i := 0; i < 200000 && ctx.Err() == nil; i++ {
		src, dst, amount := 1+rng.IntN(20000), 1+rng.IntN(20000), 1+rng.IntN(50)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			break
		}
		_, err = tx.Exec("UPDATE accounts SET balance = balance - ? WHERE id = ?", amount, src)
		if err == nil {
			_, err = tx.Exec("UPDATE accounts SET balance = balance + ? WHERE id = ?", amount, dst)
		}
		if err == nil {
			_, err = tx.Exec("INSERT INTO ledger (src, dst, amount) VALUES (?, ?, ?)", src, dst, amount)
		}
		if err == nil {
			_, err = tx.Exec("UPDATE counter SET entries = entries + 1 WHERE id = 1")
		}
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				break
			}
			return err
		}
		commits.Add(1)
	}
	return nil
}

// TestChunkBoundaries dumps tables whose keys are cut into chunks in every
// way planChunks knows, with two readers and chunks of 300 rows: every row
// comes back exactly once (same checksums, same counts), and each keyed
// table was really read in chunks.
func TestChunkBoundaries(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "chunks")
	srv.Exec(t, src,
		// Dense integers: cut by arithmetic.
		"CREATE TABLE dense (id INT PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO dense SELECT seq, CONCAT('d', seq) FROM seq_1_to_5000",
		// Sparse and skewed: 1..1000, 10^12..10^12+1000 and the largest
		// BIGINT UNSIGNED; arithmetic would make billions of chunks.
		"CREATE TABLE sparse (id BIGINT UNSIGNED PRIMARY KEY, v INT)",
		"INSERT INTO sparse SELECT seq, seq FROM seq_1_to_1000",
		"INSERT INTO sparse SELECT 1000000000000 + seq, seq FROM seq_0_to_1000",
		"INSERT INTO sparse VALUES (18446744073709551615, 0)",
		// Negative and positive around the middle of the signed range.
		"CREATE TABLE signed (id BIGINT PRIMARY KEY, v INT)",
		"INSERT INTO signed SELECT CAST(seq AS SIGNED) - 1000, seq FROM seq_1_to_2000",
		"INSERT INTO signed VALUES (-9223372036854775808, 0), (9223372036854775807, 0)",
		// Composite and text keys: walked.
		"CREATE TABLE composite (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (a, b))",
		"INSERT INTO composite SELECT seq DIV 7, CONCAT('k', seq % 7), seq FROM seq_1_to_3000",
		"CREATE TABLE textkey (k VARCHAR(20) COLLATE utf8mb4_general_ci PRIMARY KEY, v INT)",
		"INSERT INTO textkey SELECT CONCAT(IF(seq % 2, 'a', 'B'), seq), seq FROM seq_1_to_3000",
		"INSERT INTO textkey VALUES ('ä', 1), ('Z', 2), ('', 3)",
		// No key at all, with duplicate rows: one chunk.
		"CREATE TABLE nokey (v INT, w VARCHAR(10))",
		"INSERT INTO nokey SELECT seq % 100, 'x' FROM seq_1_to_3000",
		// An ENUM in the key gives no range scan: one chunk.
		"CREATE TABLE enumkey (e ENUM('z', 'a') NOT NULL, id INT NOT NULL, PRIMARY KEY (e, id))",
		"INSERT INTO enumkey SELECT ELT(1 + seq % 2, 'z', 'a'), seq FROM seq_1_to_3000",
		"ANALYZE TABLE dense, sparse, signed, composite, textkey, nokey, enumkey")
	out := filepath.Join(t.TempDir(), "chunks.sql.zst")
	mustRun(t, append([]string{"--quiet", "dump", "-D", src, "-o", out, "--threads", "2", "--chunk-rows", "300"}, connArgs(srv)...)...)
	_, tr := readTrailer(t, out)
	frames := dataFrames(tr)
	for table, min := range map[string]int{"dense": 17, "sparse": 7, "signed": 7, "composite": 10, "textkey": 10} {
		if frames[table] < min {
			t.Errorf("table %s: %d data frames, want at least %d (one per chunk)", table, frames[table], min)
		}
	}
	for _, table := range []string{"nokey", "enumkey"} {
		if frames[table] != 1 {
			t.Errorf("table %s: %d data frames, want 1", table, frames[table])
		}
	}
	checkIndex(t, out, tr)
	dst := srv.CreateDB(t, "chunkscopy")
	mustRun(t, append(append([]string{"--quiet", "restore", "-D", dst}, connArgs(srv)...), out)...)
	compareDatabases(t, srv, src, dst)
	a, b := srv.Open(t, src), srv.Open(t, dst)
	for _, table := range []string{"dense", "sparse", "signed", "composite", "textkey", "nokey", "enumkey"} {
		var na, nb int
		mustScan(t, a.QueryRow("SELECT COUNT(*) FROM "+table), &na)
		mustScan(t, b.QueryRow("SELECT COUNT(*) FROM "+table), &nb)
		if na != nb {
			t.Errorf("table %s: %d rows restored, the source has %d", table, nb, na)
		}
	}
}

// TestParallelFallbackWithoutReload dumps as a user without the RELOAD
// privilege: no global lock can be taken, so the dump warns, reads on one
// connection and is still complete and consistent.
func TestParallelFallbackWithoutReload(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "noreload")
	srv.Exec(t, src,
		"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))",
		"INSERT INTO t SELECT seq, CONCAT('v', seq) FROM seq_1_to_3000",
		"CREATE VIEW w AS SELECT id FROM t",
		"CREATE USER IF NOT EXISTS 'lms_noreload'@'localhost' IDENTIFIED BY 'n0-reload'",
		"CREATE USER IF NOT EXISTS 'lms_noreload'@'127.0.0.1' IDENTIFIED BY 'n0-reload'",
		"GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON "+ident(src)+".* TO 'lms_noreload'@'localhost'",
		"GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES ON "+ident(src)+".* TO 'lms_noreload'@'127.0.0.1'")
	t.Cleanup(func() { srv.Exec(t, "", "DROP USER IF EXISTS 'lms_noreload'@'localhost', 'lms_noreload'@'127.0.0.1'") })
	user := srv.Config.Clone()
	out := filepath.Join(t.TempDir(), "noreload.sql.zst")
	r := run(t, nil, []string{"MYSQL_PWD=n0-reload"}, "dump", "-D", src, "-o", out, "--threads", "2",
		"--dsn", "lms_noreload@"+user.Net+"("+user.Addr+")/")
	if r.code != 0 {
		t.Fatalf("dump without RELOAD: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "needs the RELOAD privilege") || !strings.Contains(r.stderr, "dumping with one connection") {
		t.Errorf("no warning that the dump fell back to one connection:\n%s", r.stderr)
	}
	if hdr, _ := readTrailer(t, out); hdr.Consistency != "single-transaction" {
		t.Errorf("consistency %q, want single-transaction", hdr.Consistency)
	}
	dst := srv.CreateDB(t, "noreloadcopy")
	mustRun(t, append(append([]string{"--quiet", "restore", "-D", dst}, connArgs(srv)...), out)...)
	compareDatabases(t, srv, src, dst)
	assertServerIdle(t, srv)
}

// TestParallelFallbackOnLockWait holds a LOCK TABLES ... WRITE when a dump
// with two threads starts: the global lock waits for it no longer than
// --lock-wait-timeout, the dump warns and goes on with one connection,
// which then waits for the table like any single-transaction dump and
// completes once the lock is released.
func TestParallelFallbackOnLockWait(t *testing.T) {
	srv := testdb.Get(t)
	db := srv.CreateDB(t, "lockwait")
	srv.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t SELECT seq FROM seq_1_to_100")
	locker := srv.Open(t, db)
	locker.SetMaxOpenConns(1)
	if _, err := locker.Exec("LOCK TABLES t WRITE"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "lockwait.sql.zst")
	cmd := exec.Command(bin, append([]string{"dump", "-D", db, "-o", out, "--threads", "2", "--lock-wait-timeout", "2s"}, connArgs(srv)...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	start := time.Now()
	waitForState(t, srv, "%backup lock%")
	waitForState(t, srv, "%metadata lock%") // after the fallback, on the table itself
	if waited := time.Since(start); waited < time.Second || waited > 20*time.Second {
		t.Errorf("the dump fell back after %s, want about --lock-wait-timeout (2s)", waited)
	}
	locker.Exec("UNLOCK TABLES")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dump: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "waited 1s for another session's lock") { // half of the bound
		t.Errorf("no warning about the lock wait:\n%s", stderr.String())
	}
	if hdr, _ := readTrailer(t, out); hdr.Consistency != "single-transaction" {
		t.Errorf("consistency %q, want single-transaction", hdr.Consistency)
	}
}

// waitForState waits until a server thread's state is LIKE pattern.
func waitForState(t *testing.T, srv *testdb.Server, pattern string) {
	t.Helper()
	root := srv.Open(t, "")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		mustScan(t, root.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE ?", pattern), &n)
		if n > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no server thread came to a state like %q", pattern)
}

// TestIdleConnectionsSurviveWaitTimeout dumps to a reader that stalls for
// longer than the server's wait_timeout: the dump's connections wait
// meanwhile (with two threads the meta connection, which planned the
// chunks of a and has yet to read the definition of b, idles), and a
// production wait_timeout of seconds or minutes must not end them and so
// the dump.
func TestIdleConnectionsSurviveWaitTimeout(t *testing.T) {
	srv := testdb.Get(t)
	db := srv.CreateDB(t, "idle")
	srv.Exec(t, db,
		"CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(200))",
		"INSERT INTO a SELECT seq, CONCAT(SHA2(seq, 256), SHA2(seq + 1, 256), SHA2(seq + 2, 256)) FROM seq_1_to_50000",
		"CREATE TABLE b (id INT PRIMARY KEY)", "INSERT INTO b VALUES (1)")
	srv.Exec(t, "", "SET GLOBAL wait_timeout = 1")
	t.Cleanup(func() { srv.Exec(t, "", "SET GLOBAL wait_timeout = DEFAULT") })
	for _, threads := range []string{"1", "2"} {
		t.Run("threads "+threads, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"--quiet", "dump", "-D", db, "-o", "-", "--compress", "none", "--threads", threads, "--chunk-rows", "1000"}, connArgs(srv)...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second) // the pipe is full long before
			out := filepath.Join(t.TempDir(), "idle.sql")
			f, err := os.Create(out)
			if err != nil {
				t.Fatal(err)
			}
			_, cerr := io.Copy(f, stdout)
			f.Close()
			if err := cmd.Wait(); err != nil || cerr != nil {
				t.Fatalf("dump with a stalled reader: %v %v\n%s", err, cerr, stderr.String())
			}
			mustRun(t, "verify", out)
		})
	}
}
