package binlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// fileBuilder writes a binary log file the way the server does: magic,
// format description (CRC32 checksums), then events at increasing
// positions.
type fileBuilder struct {
	b   bytes.Buffer
	now uint32
}

func newFile(t0 uint32) *fileBuilder {
	f := &fileBuilder{now: t0}
	f.b.WriteString(fileMagic)
	body := make([]byte, 2+50+4+1)
	binary.LittleEndian.PutUint16(body, 4)
	copy(body[2:], "10.11.19-MariaDB-test")
	body[56] = headerSize
	body = append(body, make([]byte, 20)...) // post-header lengths
	body = append(body, checksumAlgCRC32)
	f.event(typeFormat, body)
	return f
}

// event appends an event and returns its start position.
func (f *fileBuilder) event(typ byte, body []byte) int64 {
	return f.eventAt(typ, body, true)
}

func (f *fileBuilder) eventAt(typ byte, body []byte, real bool) int64 {
	pos := int64(f.b.Len())
	size := headerSize + len(body) + 4
	h := make([]byte, headerSize)
	binary.LittleEndian.PutUint32(h, f.now)
	h[4] = typ
	binary.LittleEndian.PutUint32(h[5:], 1)
	binary.LittleEndian.PutUint32(h[9:], uint32(size))
	if real {
		binary.LittleEndian.PutUint32(h[13:], uint32(pos)+uint32(size))
	}
	ev := append(h, body...)
	ev = binary.LittleEndian.AppendUint32(ev, crc32.ChecksumIEEE(ev))
	f.b.Write(ev)
	return pos
}

func gtidBody(seq uint64, standalone bool) []byte {
	b := binary.LittleEndian.AppendUint64(nil, seq)
	b = binary.LittleEndian.AppendUint32(b, 0)
	flags := byte(0)
	if standalone {
		flags = gtidFlagStandalone
	}
	return append(b, flags, 0, 0, 0, 0, 0, 0)
}

func queryBody(db, text string) []byte {
	b := make([]byte, 13)
	b[8] = byte(len(db))
	b = append(b, db...)
	b = append(b, 0)
	return append(b, text...)
}

func tableMapBody(db, table string) []byte {
	b := make([]byte, 8)
	b = append(b, byte(len(db)))
	b = append(b, db...)
	b = append(b, 0, byte(len(table)))
	b = append(b, table...)
	return append(b, 0, 1, 3)
}

// txn appends a row transaction on db.table.
func (f *fileBuilder) txn(seq uint64, db, table string) int64 {
	pos := f.event(typeGTID, gtidBody(seq, false))
	f.event(typeQuery, queryBody(db, "BEGIN"))
	f.event(typeTableMap, tableMapBody(db, table))
	f.event(30, []byte{1, 2, 3, 4}) // write rows
	f.event(typeXID, []byte{9, 0, 0, 0, 0, 0, 0, 0})
	return pos
}

// ddl appends a standalone statement.
func (f *fileBuilder) ddl(seq uint64, db, text string) int64 {
	pos := f.event(typeGTID, gtidBody(seq, true))
	f.event(typeQuery, queryBody(db, text))
	return pos
}

func (f *fileBuilder) rotate(next string) {
	f.event(typeRotate, append(binary.LittleEndian.AppendUint64(nil, 4), next...))
}

func (f *fileBuilder) write(t *testing.T, dir, name string) LocalFile {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, f.b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return LocalFile{Name: name, Path: p}
}

func TestSummarize(t *testing.T) {
	f := newFile(1000)
	f.event(typeGTIDList, append(binary.LittleEndian.AppendUint32(nil, 1), append(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 0), 1), binary.LittleEndian.AppendUint64(nil, 6)...)...))
	f.txn(7, "shop", "t")
	f.now = 1005
	f.ddl(8, "shop", "ALTER TABLE t ADD c INT")
	f.rotate("binlog.000002")
	m, err := Summarize(bytes.NewReader(f.b.Bytes()), false)
	if err != nil {
		t.Fatal(err)
	}
	if m.First != 4 || m.End != int64(f.b.Len()) || m.FirstGTID != "0-1-7" || m.LastGTID != "0-1-8" || m.Transactions != 2 ||
		m.Next != "binlog.000002" || !m.Closed() || len(m.StartState) != 1 || m.StartState[0] != "0-1-6" ||
		m.FirstTime.Unix() != 1000 || m.LastTime.Unix() != 1005 {
		t.Errorf("manifest: %+v", m)
	}

	t.Run("truncated", func(t *testing.T) {
		cut := f.b.Bytes()[:f.b.Len()-7]
		if _, err := Summarize(bytes.NewReader(cut), false); !errors.Is(err, ErrCorrupt) {
			t.Errorf("a cut file: %v, want ErrCorrupt", err)
		}
		m, err := Summarize(bytes.NewReader(cut), true)
		if err != nil || m.Closed() || m.LastGTID != "0-1-8" {
			t.Errorf("a cut file read as partial: %+v, %v", m, err)
		}
	})
	t.Run("damaged", func(t *testing.T) {
		bad := bytes.Clone(f.b.Bytes())
		bad[300] ^= 0x40
		if _, err := Summarize(bytes.NewReader(bad), false); !errors.Is(err, ErrCorrupt) {
			t.Errorf("a flipped bit: %v, want ErrCorrupt", err)
		}
	})
	t.Run("not a binlog", func(t *testing.T) {
		if _, err := Summarize(strings.NewReader("hello world, not a binlog"), false); !errors.Is(err, ErrCorrupt) {
			t.Errorf("got %v", err)
		}
	})
}

// TestSpoolAssemble: a resumed run writes the magic, an artificial format
// description and the events from the resume position; put together with
// the first run's piece, the file is the server's again.
func TestSpoolAssemble(t *testing.T) {
	f := newFile(1000)
	f.txn(1, "shop", "t")
	resumeAt := int64(f.b.Len())
	f.txn(2, "shop", "t")
	f.ddl(3, "shop", "CREATE TABLE u (x INT)")
	whole := bytes.Clone(f.b.Bytes())

	spool := Spool{Dir: t.TempDir()}
	run1, err := spool.NewRun()
	if err != nil {
		t.Fatal(err)
	}
	// The first run died in the middle of the second transaction's event.
	os.WriteFile(filepath.Join(run1, "binlog.000001"), whole[:resumeAt+10], 0o600)
	run2, _ := spool.NewRun()
	resumed := newFile(1000) // its format description is real; make an artificial one
	resumed.b.Reset()
	resumed.b.WriteString(fileMagic)
	fde := bytes.Clone(whole[4 : 4+int(binary.LittleEndian.Uint32(whole[4+9:]))])
	binary.LittleEndian.PutUint32(fde[13:], 0)
	binary.LittleEndian.PutUint32(fde[len(fde)-4:], crc32.ChecksumIEEE(fde[:len(fde)-4]))
	resumed.b.Write(fde)
	resumed.b.Write(whole[resumeAt:])
	os.WriteFile(filepath.Join(run2, "binlog.000001"), resumed.b.Bytes(), 0o600)

	asm, err := spool.Assemble("binlog.000001")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := asm.WriteTo(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), whole) || asm.End != int64(len(whole)) {
		t.Errorf("assembled %d bytes ending at %d, want the %d of the server's file", got.Len(), asm.End, len(whole))
	}

	t.Run("gap", func(t *testing.T) {
		spool := Spool{Dir: t.TempDir()}
		r1, _ := spool.NewRun()
		os.WriteFile(filepath.Join(r1, "binlog.000001"), whole[:resumeAt-5], 0o600)
		r2, _ := spool.NewRun()
		os.WriteFile(filepath.Join(r2, "binlog.000001"), resumed.b.Bytes(), 0o600)
		if _, err := spool.Assemble("binlog.000001"); !errors.Is(err, ErrGap) {
			t.Errorf("a resumed piece after a hole: %v, want ErrGap", err)
		}
	})
}

func TestPlanReplay(t *testing.T) {
	dir := t.TempDir()
	f := newFile(1000)
	dumpPos := int64(f.b.Len())
	f.now = 1001
	f.txn(1, "shop", "t")
	f.now = 1002
	f.txn(2, "other", "o")
	f.ddl(3, "shop", "ALTER TABLE t ADD c INT")
	f.rotate("binlog.000002")
	one := f.write(t, dir, "binlog.000001")
	g := newFile(1003)
	g.now = 1004
	stopAt := g.txn(4, "shop", "t")
	g.now = 1006
	g.ddl(5, "shop", "DROP VIEW v")
	two := g.write(t, dir, "binlog.000002")
	files := []LocalFile{one, two}
	from := Position{"binlog.000001", dumpPos}

	p, err := PlanReplay(Files(files), from, Target{Until: time.Unix(1004, 0)}, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if p.Stop != (Position{"binlog.000002", stopAt}) || p.Transactions != 2 || p.Other != 1 || p.Last.Seq != 3 || p.Next.Seq != 4 || len(p.Files) != 2 {
		t.Errorf("plan to 1004: %+v", p)
	}
	p, err = PlanReplay(Files(files), from, Target{UntilGTID: GTID{0, 1, 2}}, "shop")
	if err != nil || p.Stop.File != "binlog.000001" || p.Transactions != 1 || p.Other != 1 || len(p.Files) != 1 {
		t.Errorf("plan to GTID 0-1-2: %+v, %v", p, err)
	}
	if _, err := PlanReplay(Files(files), from, Target{Until: time.Unix(1007, 0)}, "shop"); !errors.Is(err, ErrUnsafe) {
		t.Errorf("a range with DROP VIEW: %v, want ErrUnsafe", err)
	}
	if _, err := PlanReplay(Files(files[:1]), from, Target{Until: time.Unix(1100, 0)}, "shop"); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("past the newest event: %v, want ErrOutOfRange", err)
	}
}

func TestServerDrop(t *testing.T) {
	for _, c := range []struct {
		text   string
		tables []string
	}{
		{"DROP TABLE `shop`.`t2` /* generated by server */", []string{"t2"}},
		{"DROP TABLE IF EXISTS `shop`.`a``b`,`shop`.`c` /* generated by server */", []string{"a`b", "c"}},
		{"DROP TEMPORARY TABLE IF EXISTS `shop`.`tmp` /* generated by server */", []string{"tmp"}},
		{"DROP TABLE `shop`.`a`,`other`.`b` /* generated by server */", nil},
		{"DROP TABLE `shop`.`a` /* generated by server */ ; DROP DATABASE x", nil},
		{"DROP TABLE `shop`.`a\n` /* generated by server */", nil},
		{"DROP TABLE shop.a", nil},
	} {
		got, ok := serverDrop([]byte(c.text), "shop")
		if ok != (c.tables != nil) || strings.Join(got, "|") != strings.Join(c.tables, "|") {
			t.Errorf("serverDrop(%q) = %q, %v; want %q", c.text, got, ok, c.tables)
		}
		if ok {
			re := renamedDrop(c.text, "stage`x", got)
			if !strings.Contains(re, "`stage``x`.") || strings.Contains(re, "`shop`") {
				t.Errorf("renamed: %q", re)
			}
		}
	}
}

func TestCheckStatement(t *testing.T) {
	for _, c := range []struct {
		db, text string
		ok       bool
	}{
		{"shop", "ALTER TABLE t ADD c INT", true},
		{"shop", "CREATE TABLE `view` (x INT)", true},
		{"shop", "CREATE DEFINER=`root`@`localhost` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.x = 1", false},
		{"shop", "create or replace algorithm=merge view v as select 1", false},
		{"shop", "DROP PROCEDURE p", false},
		{"shop", "ALTER EVENT e DISABLE", false},
		{"other", "CREATE VIEW v AS SELECT 1", true},
		{"other", "ALTER TABLE `shop`.t ADD c INT", false},
		{"other", "ALTER TABLE Shop . t ADD c INT", false},
		{"shop", "DROP TABLE `shop`.`t2` /* generated by server */", false},
		{"shop", "ALTER TABLE t COMMENT 'x/*!*/;DROP DATABASE prod'", false},
		{"shop", "ALTER TABLE t COMMENT '\ndelimiter ;;\n'", false},
		{"shop", "ALTER TABLE workshop.t ADD c INT", true},
	} {
		err := checkStatement([]byte(c.db), []byte(c.text), "shop")
		if (err == nil) != c.ok {
			t.Errorf("%q in %s: %v, want ok=%v", c.text, c.db, err, c.ok)
		}
	}
}

// FuzzCheckStatement: whatever a statement holds, the check does not panic,
// and a statement that could end the client's statement early is refused.
func FuzzCheckStatement(f *testing.F) {
	f.Add([]byte("shop"), []byte("ALTER TABLE t ADD c INT"), "shop")
	f.Add([]byte("x"), []byte("CREATE VIEW `a``b`.v AS SELECT '/*!*/'"), "a`b")
	f.Fuzz(func(t *testing.T, db, text []byte, source string) {
		err := checkStatement(db, text, source)
		if bytes.Contains(text, []byte("/*!*/")) && err == nil {
			t.Fatalf("%q passed", text)
		}
	})
}

// FuzzFilterSessionGTID: the filter drops exactly the whole lines that set
// the session's GTID or server id, and passes every other byte through.
func FuzzFilterSessionGTID(f *testing.F) {
	f.Add([]byte("# at 4\n/*M!100001 SET @@session.gtid_seq_no=5*//*!*/;\nINSERT\n"))
	f.Add([]byte("/*!100001 SET @@session.server_id=1*//*!*/;"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		if err := filterSessionGTID(&out, bytes.NewReader(in), nil); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		for _, line := range bytes.SplitAfter(in, []byte("\n")) {
			if !sessionGTID.Match(line) {
				want.Write(line)
			}
		}
		if !bytes.Equal(out.Bytes(), want.Bytes()) {
			t.Fatalf("filter(%q) = %q, want %q", in, out.Bytes(), want.Bytes())
		}
	})
}

// FuzzClientConfig: no user, password or socket name can add an option
// line to the file the stock clients read.
func FuzzClientConfig(f *testing.F) {
	f.Add("root", "pa\"ss\\word", "/tmp/sock")
	f.Add("u\nssl=0", "p", "s")
	f.Fuzz(func(t *testing.T, user, pass, sock string) {
		dir := t.TempDir()
		path, err := writeClientConfig(dir, &mysql.Config{User: user, Passwd: pass, Net: "unix", Addr: sock}, ClientTLS{})
		if err != nil {
			if !strings.ContainsAny(user+pass+sock, "\n\r\x00") {
				t.Fatalf("refused %q %q %q: %v", user, pass, sock, err)
			}
			return
		}
		data, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		want := 3
		if pass == "" {
			want = 2
		}
		if len(lines) != want+1 || lines[0] != "[client]" {
			t.Fatalf("option file:\n%s", data)
		}
		st, _ := os.Stat(path)
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v", st.Mode())
		}
	})
}

// FuzzScanner: no byte string makes the scanner panic or loop.
func FuzzScanner(f *testing.F) {
	b := newFile(1)
	b.txn(1, "a", "b")
	f.Add(b.b.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		Summarize(bytes.NewReader(in), true)
	})
}

// FuzzRenamedDrop: whatever the names, the rewritten DROP TABLE is the
// server's form again, naming exactly the same tables, all in staging.
func FuzzRenamedDrop(f *testing.F) {
	f.Add("t2", "a`b", "lms_restore_1_new")
	f.Fuzz(func(t *testing.T, t1, t2, staging string) {
		if t1 == "" || t2 == "" || staging == "" || strings.ContainsAny(t1+t2+staging, "\r\n") {
			return
		}
		text := "DROP TABLE " + quoteName("shop") + "." + quoteName(t1) + "," + quoteName("shop") + "." + quoteName(t2) + " /* generated by server */"
		tables, ok := serverDrop([]byte(text), "shop")
		if !ok {
			if !bytes.Contains([]byte(text), []byte("/*!*/")) {
				t.Fatalf("the server's form %q was not recognised", text)
			}
			return
		}
		if len(tables) != 2 || tables[0] != t1 || tables[1] != t2 {
			t.Fatalf("%q: tables %q", text, tables)
		}
		again, ok := serverDrop([]byte(renamedDrop(text, staging, tables)), staging)
		if !ok && !strings.Contains(renamedDrop(text, staging, tables), "/*!*/") {
			t.Fatalf("renamed %q is not the server's form", renamedDrop(text, staging, tables))
		}
		if ok && (len(again) != 2 || again[0] != t1 || again[1] != t2) {
			t.Fatalf("renamed names %q", again)
		}
	})
}

func TestClientConfigTLS(t *testing.T) {
	cfg := &mysql.Config{User: "backup", Passwd: "pw", Net: "tcp", Addr: "db.example:3307"}
	for _, c := range []struct {
		tls  ClientTLS
		want []string
	}{
		{ClientTLS{Mode: "VERIFY_IDENTITY", CA: "/etc/ca dir/ca.pem"}, []string{"ssl", "ssl-verify-server-cert", `ssl-ca = "/etc/ca dir/ca.pem"`}},
		{ClientTLS{Mode: "verify_ca", CA: "/ca.pem", Cert: "/c.pem", Key: "/k.pem"}, []string{"ssl-verify-server-cert", `ssl-cert = "/c.pem"`, `ssl-key = "/k.pem"`}},
		{ClientTLS{Mode: "REQUIRED"}, []string{"ssl"}},
		{ClientTLS{Mode: "DISABLED"}, []string{"skip-ssl"}},
		{ClientTLS{}, []string{"protocol = TCP", `host = "db.example"`, `port = "3307"`}},
	} {
		path, err := writeClientConfig(t.TempDir(), cfg, c.tls)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		lines := strings.Split(string(data), "\n")
		for _, w := range c.want {
			if !slices.Contains(lines, w) {
				t.Errorf("%+v: no line %q in\n%s", c.tls, w, data)
			}
		}
	}
}
