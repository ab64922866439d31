package dump

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"lms-backup/dumpfile"
	"lms-backup/internal/testdb"
	"lms-backup/paginate"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// lossy keeps the two-byte codes (seq) of charset cs that are valid in cs
// but have no Unicode mapping: read as utf8mb4 they become '?'.
func lossy(cs string) string {
	return "(seq & 255) BETWEEN 64 AND 254 AND (seq & 255) <> 127 AND CHAR_LENGTH(CHAR(seq USING " + cs +
		")) = 1 AND HEX(CONVERT(CHAR(seq USING " + cs + ") USING utf8mb4)) = '3F'"
}

// keyTables are tables whose keys a conversion to utf8mb4 loses (gbk, big5,
// sjis), keys equal under their collation but not in their bytes, and a
// latin1 key (sent to a utf8mb4 session as other bytes).
var keyTables = []string{
	"CREATE TABLE g (k VARCHAR(10) CHARACTER SET gbk NOT NULL PRIMARY KEY, note VARCHAR(10) CHARACTER SET gbk, v INT)",
	"SET STATEMENT sql_mode = '' FOR INSERT INTO g SELECT CHAR(seq USING gbk), CHAR(seq USING gbk), seq FROM seq_33088_to_65278 WHERE " + lossy("gbk"),
	"INSERT INTO g VALUES ('?', '?', 1), ('a', 'a', 2), ('B ', 'B', 3)",
	"CREATE TABLE b (k VARCHAR(10) CHARACTER SET big5 NOT NULL, n INT NOT NULL, v INT, PRIMARY KEY (k, n))",
	"SET STATEMENT sql_mode = '' FOR INSERT INTO b SELECT CHAR(s.seq USING big5), n.seq, s.seq FROM seq_33088_to_65278 s JOIN seq_1_to_3 n WHERE " +
		"s.seq IN (SELECT seq FROM seq_33088_to_65278 WHERE " + lossy("big5") + ")",
	"CREATE TABLE s (n INT NOT NULL, k CHAR(4) CHARACTER SET sjis NOT NULL, v INT, PRIMARY KEY (n, k))",
	"SET STATEMENT sql_mode = '' FOR INSERT INTO s SELECT seq % 3, CHAR(seq USING sjis), seq FROM seq_33088_to_65278 WHERE " + lossy("sjis") + " AND seq % 4 = 0",
	"CREATE TABLE ci (k VARCHAR(10) COLLATE utf8mb4_general_ci NOT NULL, n INT NOT NULL, v INT, PRIMARY KEY (k, n))",
	"INSERT INTO ci SELECT ELT(1 + seq % 6, 'a', 'A', 'ä', 'a ', 'Ä ', 'b'), seq, seq FROM seq_1_to_600",
	"CREATE TABLE l1 (k VARCHAR(10) CHARACTER SET latin1 NOT NULL PRIMARY KEY, v INT)",
	"INSERT INTO l1 SELECT CONCAT(CHAR(128 + seq % 128 USING latin1), seq), seq FROM seq_1_to_500",
	"ANALYZE TABLE g, b, s, ci, l1",
}

// TestDumpCharsetKeys dumps the tables of keyTables on one connection with
// tiny pages and on two with small chunks: the trailer's row count of each
// table equals its COUNT(*), and the dump restored by the stock client
// gives every table back with the same CHECKSUM. Before keys were read as
// bytes, pages repeated rows: the trailer counted more rows than the
// table has, and the restore failed on a duplicate key.
func TestDumpCharsetKeys(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "dk")
	srv.Exec(t, src, keyTables...)
	db := srv.Open(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tables := []string{"b", "ci", "g", "l1", "s"}
	want := map[string]int64{}
	for _, name := range tables {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+src+"`.`"+name+"`").Scan(&n); err != nil {
			t.Fatal(err)
		}
		want[name] = n
	}
	tests := []struct {
		name    string
		threads int
		chunk   int
	}{
		{"one connection", 1, 0},
		{"chunked", 2, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			opts := Options{Database: src, Compression: dumpfile.None, Threads: tt.threads, ChunkRows: tt.chunk,
				PageRows: func() int { return 7 }}
			res, err := Run(ctx, srv.Open(t, src), opts, &out, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if tt.threads > 1 && res.Header.Consistency == "single-transaction" {
				t.Fatalf("dump ran on one connection (%v): the chunks are not tested", res.Warnings)
			}
			frames := trailerRows(t, out.Bytes(), want)
			if tt.threads > 1 && frames["g"] < 10 {
				t.Errorf("table g in %d data frames, want one per chunk of 100 rows", frames["g"])
			}
			dst := srv.CreateDB(t, "dkr")
			cmd := exec.Command("mariadb", append(srv.ClientArgs(), dst)...)
			cmd.Stdin = bytes.NewReader(out.Bytes())
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("restore with mariadb: %v\n%s", err, msg)
			}
			for _, name := range tables {
				if a, b := checksum(t, db, src, name), checksum(t, db, dst, name); a != b {
					t.Errorf("table %s: CHECKSUM %d after the restore, %d before", name, b, a)
				}
			}
		})
	}
}

// trailerRows checks that the trailer gives each table of want its row
// count, and returns the number of data frames per table.
func trailerRows(t *testing.T, dump []byte, want map[string]int64) map[string]int {
	t.Helper()
	frames := map[string]int{}
	tr := readFrames(t, dump, func(f *dumpfile.Frame) {
		if f.Info.Kind == dumpfile.KindData {
			frames[f.Info.Table]++
		}
	})
	got := map[string]int64{}
	for _, s := range tr.Tables {
		got[s.Name] = s.Rows
	}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("trailer: table %s has %d rows, COUNT(*) %d", name, got[name], n)
		}
	}
	return frames
}

// readFrames reads every frame of dump in order, hands each to fn (its
// Data is valid only during the call) and returns the trailer.
func readFrames(t *testing.T, dump []byte, fn func(*dumpfile.Frame)) *dumpfile.Trailer {
	t.Helper()
	r, err := dumpfile.NewReader(bytes.NewReader(dump))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(f)
	}
	tr := r.Trailer()
	if tr == nil {
		t.Fatal("no trailer")
	}
	return tr
}

// checksum returns CHECKSUM TABLE ... EXTENDED of schema.table.
func checksum(t *testing.T, db *sql.DB, schema, table string) int64 {
	t.Helper()
	var name string
	var sum int64
	if err := db.QueryRowContext(context.Background(), "CHECKSUM TABLE `"+schema+"`.`"+table+"` EXTENDED").Scan(&name, &sum); err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestCheckCount: a chunk read with another row count than its key range
// holds in the snapshot is ErrRowCount; a table outside the snapshot (not
// InnoDB) is not counted.
func TestCheckCount(t *testing.T) {
	srv := testdb.Get(t)
	src := srv.CreateDB(t, "dc")
	srv.Exec(t, src, "CREATE TABLE t (k VARCHAR(10) CHARACTER SET gbk NOT NULL PRIMARY KEY) ENGINE=InnoDB",
		"INSERT INTO t SELECT CHAR(0xA140 + seq USING gbk) FROM seq_0_to_49")
	db := srv.Open(t, src)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	key, err := paginate.FindKey(ctx, conn, src, "t")
	if err != nil {
		t.Fatal(err)
	}
	through := [][]byte{{0xA1, 0x40 + 19}}
	q := paginate.Query{Table: "t", Columns: []string{"1"}, Key: key, Through: through}
	tests := []struct {
		engine string
		read   int64
		ok     bool
	}{
		{"InnoDB", 20, true},
		{"InnoDB", 21, false},
		{"InnoDB", 19, false},
		{"MyISAM", 21, true},
	}
	for _, tt := range tests {
		t.Run(tt.engine+" "+strconv.FormatInt(tt.read, 10), func(t *testing.T) {
			err := checkCount(ctx, conn, &table{Name: "t", Engine: tt.engine}, q, tt.read)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrRowCount)) {
				t.Fatalf("checkCount = %v, want ok=%v or ErrRowCount", err, tt.ok)
			}
		})
	}
}
