package dump

import (
	"bytes"
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"lms-backup/dumpfile"
	"lms-backup/dumpfile/sqlscript"
	"lms-backup/internal/testdb"
)

// TestFramesAndStatements dumps rows from a few bytes to twice the frame
// size, mixed, with the smallest frames (64 KiB) and 4 KiB statements, on
// one and on two connections. Rows are encoded in place and moved when a
// statement or frame must end first: every INSERT stays within the
// statement size unless it holds one row, every frame but a one-row frame
// within its size, and the stock client restores every row.
func TestFramesAndStatements(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "fs")
	srv.Exec(t, src,
		"CREATE TABLE r (id INT PRIMARY KEY, s LONGTEXT, b LONGBLOB)",
		// Small rows, rows just under and over the slack, and a few over
		// the frame size, in an order that ends statements and frames at
		// every kind of row.
		"INSERT INTO r SELECT seq, REPEAT(CHAR(97 + seq % 26), CASE WHEN seq % 97 = 0 THEN 150000 WHEN seq % 31 = 0 THEN 60000 "+
			"WHEN seq % 7 = 0 THEN 3000 ELSE seq % 50 END), IF(seq % 5 = 0, UNHEX(REPEAT('00FF27', seq % 300)), NULL) FROM seq_1_to_700")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const frame, stmt = 64 << 10, 4096
	for _, threads := range []int{1, 2} {
		var out bytes.Buffer
		opts := Options{Database: src, Compression: dumpfile.None, Threads: threads, ChunkRows: 100, MaxStatement: stmt,
			FrameSize: func() int { return frame }, PageRows: func() int { return 13 }}
		if _, err := Run(ctx, srv.Open(t, src), opts, &out, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		inserts := 0
		err := sqlscript.Split(out.Bytes(), func(s sqlscript.Statement) error {
			text := string(s.Text)
			if !strings.HasPrefix(text, "INSERT INTO `r`") {
				return nil
			}
			inserts++
			if rows := strings.Count(text, "),("); len(text) > stmt && rows > 0 {
				t.Errorf("an INSERT of %d rows has %d bytes, over the statement size %d", rows+1, len(text), stmt)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("split: %v", err)
		}
		if inserts < 100 {
			t.Fatalf("%d INSERTs: the statement size was not tested", inserts)
		}
		frames := trailerRows(t, out.Bytes(), map[string]int64{"r": 700})
		if frames["r"] < 10 {
			t.Fatalf("table r in %d frames: the frame size was not tested", frames["r"])
		}
		readFrames(t, out.Bytes(), func(f *dumpfile.Frame) {
			if f.Info.Kind == dumpfile.KindData && f.Info.Rows > 1 && len(f.Data) > frame {
				t.Errorf("a frame of %d rows has %d bytes, over the frame size %d", f.Info.Rows, len(f.Data), frame)
			}
		})
		dst := srv.CreateDB(t, "fsr")
		cmd := exec.Command("mariadb", append(srv.ClientArgs(), dst)...)
		cmd.Stdin = bytes.NewReader(out.Bytes())
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("restore with mariadb: %v\n%s", err, msg)
		}
		db := srv.Open(t, "")
		if a, b := checksum(t, db, src, "r"), checksum(t, db, dst, "r"); a != b {
			t.Errorf("threads %d: CHECKSUM %d after the restore, %d before", threads, b, a)
		}
	}
}
