package binlog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

var (
	// ErrOutOfRange means the moment asked for is outside what the dumps
	// and the archive can reach.
	ErrOutOfRange = errors.New("binlog: moment out of range")
	// ErrUnsafe means the range to replay holds a statement that cannot be
	// replayed into a database of another name, or through the client.
	ErrUnsafe = errors.New("binlog: statement cannot be replayed")
	// ErrReplay means the server rejected a replayed event.
	ErrReplay = errors.New("binlog: replay failed")
)

// Position is a place in the binary log.
type Position struct {
	File string
	Pos  int64
}

func (p Position) String() string { return fmt.Sprintf("%s:%d", p.File, p.Pos) }

// LocalFile is a binary log file on local disk, whole or as far as it
// has been written (the archive's newest file).
type LocalFile struct {
	Name string // the server's name
	Path string
}

// Target says where a replay stops: before the first transaction
// committed at or after Until, or right after transaction UntilGTID.
// Exactly one is set.
type Target struct {
	Until     time.Time
	UntilGTID GTID
}

// Plan is a checked replay: from the dump's position up to Stop.
type Plan struct {
	Database string
	From     Position
	// Stop is where the replay stops (exclusive): the start of the first
	// transaction not replayed, or the end of the last one.
	Stop Position
	// Files are the files to pass to mariadb-binlog, From.File first and
	// Stop.File last.
	Files []LocalFile
	// Transactions counts the replayed transactions that touch Database
	// (Other those that do not, which are skipped).
	Transactions, Other int
	// Last is the last replayed transaction (of any database) and its
	// commit time; Next the first one not replayed (zero at the end).
	Last, Next         GTID
	LastTime, NextTime time.Time

	// drops are the server's DROP TABLE statements in the range, which
	// name the database: text -> the tables, for Replay to rename.
	drops map[string][]string
}

// group is a transaction being scanned.
type group struct {
	gtid       GTID
	time       time.Time
	pos        Position
	standalone bool
	touches    bool
	done       bool
	counted    bool
	end        Position
}

// Planner scans files in order, starting with the one holding the
// dump's position, and works out what a replay of one database up to a
// target does. It refuses a range with statements that the rename to
// another database or the client would change (ErrUnsafe).
type Planner struct {
	p       *Plan
	target  Target
	cur     *group
	scanned int
	stopped bool
}

// NewPlanner starts a plan for database db from position from.
func NewPlanner(from Position, target Target, db string) *Planner {
	return &Planner{p: &Plan{Database: db, From: from}, target: target}
}

// Scan reads the next file; it returns true once the stop is found (no
// more files are needed).
func (pl *Planner) Scan(lf LocalFile) (bool, error) {
	if pl.scanned == 0 && lf.Name != pl.p.From.File {
		return false, fmt.Errorf("%w: the archive does not hold %s", ErrGap, pl.p.From.File)
	}
	stop, err := pl.p.scanFile(lf, pl.scanned == 0, pl.target, &pl.cur, pl.finish)
	pl.scanned++
	pl.p.Files = append(pl.p.Files, lf)
	pl.stopped = stop
	return stop, err
}

func (pl *Planner) finish() {
	cur := pl.cur
	if cur == nil || !cur.done || cur.counted {
		return
	}
	cur.counted = true
	pl.p.Last, pl.p.LastTime = cur.gtid, cur.time
	if cur.touches {
		pl.p.Transactions++
	} else {
		pl.p.Other++
	}
}

// Plan returns the plan once Scan found the stop; before that the target
// lies past the newest complete transaction (ErrOutOfRange).
func (pl *Planner) Plan() (*Plan, error) {
	if pl.stopped {
		return pl.p, nil
	}
	if !pl.target.UntilGTID.IsZero() {
		return nil, fmt.Errorf("%w: transaction %s is not in the archive after the dump's position %s", ErrOutOfRange, pl.target.UntilGTID, pl.p.From)
	}
	return nil, fmt.Errorf("%w: the newest archived transaction committed at %s", ErrOutOfRange, pl.p.LastTime.Format(time.RFC3339))
}

// PlanReplay runs a Planner over the files next yields, in order, until
// the stop is found or next has no more.
func PlanReplay(next func() (LocalFile, bool, error), from Position, target Target, db string) (*Plan, error) {
	pl := NewPlanner(from, target, db)
	for {
		lf, ok, err := next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		stop, err := pl.Scan(lf)
		if err != nil {
			return nil, err
		}
		if stop {
			break
		}
	}
	return pl.Plan()
}

// Files yields files in order, for PlanReplay.
func Files(files []LocalFile) func() (LocalFile, bool, error) {
	return func() (LocalFile, bool, error) {
		if len(files) == 0 {
			return LocalFile{}, false, nil
		}
		lf := files[0]
		files = files[1:]
		return lf, true, nil
	}
}

// scanFile scans one file; it returns true when the stop was found.
func (p *Plan) scanFile(lf LocalFile, first bool, target Target, cur **group, finish func()) (bool, error) {
	f, err := os.Open(lf.Path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc, err := NewScanner(f)
	if err != nil {
		return false, fmt.Errorf("%s: %w", lf.Name, err)
	}
	for sc.Next() {
		ev := sc.Event()
		if ev.End == 0 || (first && ev.Pos < p.From.Pos) {
			continue
		}
		here := Position{lf.Name, ev.Pos}
		if ev.Type == typeGTID {
			finish()
			g, standalone, err := gtidOf(ev)
			if err != nil {
				return false, err
			}
			t := time.Unix(int64(ev.Time), 0).UTC()
			if !target.Until.IsZero() && !t.Before(target.Until) {
				p.Stop, p.Next, p.NextTime = here, g, t
				return true, nil
			}
			if (*cur) != nil && !(*cur).done {
				return false, fmt.Errorf("%w: transaction %s at %s has no end", ErrCorrupt, (*cur).gtid, (*cur).pos)
			}
			*cur = &group{gtid: g, time: t, pos: here, standalone: standalone}
			continue
		}
		g := *cur
		if g == nil || g.done {
			continue // events between transactions (rotate, checkpoints)
		}
		if err := p.event(ev, g); err != nil {
			return false, fmt.Errorf("%w (at %s)", err, here)
		}
		if g.done {
			g.end = Position{lf.Name, ev.End}
			finish()
			if !target.UntilGTID.IsZero() && g.gtid == target.UntilGTID {
				p.Stop = g.end
				*cur = nil
				return true, nil
			}
		}
	}
	if err := sc.Err(); err != nil && !sc.Truncated() {
		return false, fmt.Errorf("%s: %w", lf.Name, err)
	}
	return false, nil
}

// event folds one event of a transaction into g.
func (p *Plan) event(ev *Event, g *group) error {
	switch ev.Type {
	case typeXID, typeXAPrepare:
		g.done = true
	case typeTableMap:
		db, _, err := tableMapOf(ev)
		if err != nil {
			return err
		}
		if string(db) == p.Database {
			g.touches = true
		}
	case typeQueryCompress:
		return fmt.Errorf("%w: a compressed statement (log_bin_compress) cannot be checked before it is replayed", ErrUnsafe)
	case typeQuery:
		db, text, err := queryOf(ev)
		if err != nil {
			return err
		}
		word := leadingWord(text)
		if word == "COMMIT" || word == "ROLLBACK" || word == "XA" && g.standalone {
			g.done = true
			return nil
		}
		if word == "BEGIN" || word == "SAVEPOINT" || word == "XA" {
			return nil
		}
		if drop, ok := serverDrop(text, p.Database); ok && string(db) == p.Database {
			// The server's own DROP TABLE names the database: the replay
			// renames it (Replay), so it is safe.
			if p.drops == nil {
				p.drops = map[string][]string{}
			}
			p.drops[string(text)] = drop
		} else if err := checkStatement(db, text, p.Database); err != nil {
			return err
		}
		if string(db) == p.Database {
			g.touches = true
		}
		if g.standalone {
			g.done = true
		}
	}
	return nil
}

// serverDropRE matches the DROP TABLE statements the server writes to the
// binary log: every table qualified and quoted, and a closing comment.
var serverDropRE = regexp.MustCompile("^DROP (TEMPORARY )?TABLE (IF EXISTS )?((`(?:[^`]|``)+`\\.`(?:[^`]|``)+`)(,`(?:[^`]|``)+`\\.`(?:[^`]|``)+`)*) /\\* generated by server \\*/$")

var quotedPair = regexp.MustCompile("`((?:[^`]|``)+)`\\.`((?:[^`]|``)+)`")

// serverDrop reports whether text is the server's DROP TABLE of tables
// of database source only, on one line, and returns the tables.
func serverDrop(text []byte, source string) ([]string, bool) {
	if bytes.ContainsAny(text, "\r\n") || bytes.Contains(text, []byte("/*!*/")) {
		return nil, false
	}
	m := serverDropRE.FindSubmatch(text)
	if m == nil {
		return nil, false
	}
	var tables []string
	for _, pair := range quotedPair.FindAllSubmatch(m[3], -1) {
		db := strings.ReplaceAll(string(pair[1]), "``", "`")
		if db != source {
			return nil, false
		}
		tables = append(tables, strings.ReplaceAll(string(pair[2]), "``", "`"))
	}
	return tables, len(tables) > 0
}

// renamedDrop is a server's DROP TABLE with the tables in staging.
func renamedDrop(text string, staging string, tables []string) string {
	var b strings.Builder
	head, _, _ := strings.Cut(text, "`")
	b.WriteString(head)
	for i, t := range tables {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quoteName(staging) + "." + quoteName(t))
	}
	b.WriteString(" /* generated by server */")
	return b.String()
}

func quoteName(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// leadingWord is the first word of a statement, upper-cased.
func leadingWord(text []byte) string {
	t := bytes.TrimLeft(text, " \t\r\n")
	end := bytes.IndexFunc(t, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') })
	if end < 0 {
		end = len(t)
	}
	return strings.ToUpper(string(t[:end]))
}

// objectWords are the object kinds a replay must not create, change or
// drop: the swap recreates the dump's views, routines, triggers and
// events after the tables, so a change to one in the replayed range would
// be lost or would collide.
var objectWords = map[string]bool{"VIEW": true, "TRIGGER": true, "PROCEDURE": true, "FUNCTION": true,
	"EVENT": true, "PACKAGE": true}

// tableWords end the search for an object kind: the statement is about
// one of these.
var tableWords = map[string]bool{"TABLE": true, "TABLES": true, "DATABASE": true, "SCHEMA": true, "INDEX": true,
	"SEQUENCE": true, "USER": true, "ROLE": true, "SERVER": true, "TEMPORARY": true}

// checkStatement refuses a statement text that the replay cannot carry
// into the restored database exactly: one that would end the client's
// statement early, one that names the source database (mariadb-binlog
// renames only the default database, and filters by it), and a change to
// a view, routine, trigger or event of the database.
func checkStatement(db, text []byte, source string) error {
	if bytes.Contains(text, []byte("/*!*/")) {
		return fmt.Errorf("%w: a statement contains mariadb-binlog's delimiter /*!*/", ErrUnsafe)
	}
	for line := range bytes.SplitSeq(text, []byte("\n")) {
		if strings.EqualFold(leadingWord(line), "DELIMITER") {
			return fmt.Errorf("%w: a statement has a line that the client would take for its DELIMITER command", ErrUnsafe)
		}
	}
	if namesDatabase(text, source) {
		return fmt.Errorf("%w: a statement names database %s explicitly (%s): the replay renames only the default database; restore to a moment before it, or take a dump after it",
			ErrUnsafe, source, head(text))
	}
	if string(db) != source {
		return nil
	}
	switch leadingWord(text) {
	case "CREATE", "ALTER", "DROP":
	default:
		return nil
	}
	for i, w := range words(text, 12) {
		if i == 0 {
			continue
		}
		if tableWords[w] {
			return nil
		}
		if objectWords[w] {
			return fmt.Errorf("%w: %s %s in the replayed range (%s): a restore to a moment can replay changes to tables only; restore to a moment before it, or take a dump after it",
				ErrUnsafe, leadingWord(text), strings.ToLower(w), head(text))
		}
	}
	return nil
}

// words returns up to n upper-cased bare words of text, skipping quoted
// names and strings.
func words(text []byte, n int) []string {
	var out []string
	for i := 0; i < len(text) && len(out) < n; {
		c := text[i]
		switch {
		case c == '`' || c == '\'' || c == '"':
			j := bytes.IndexByte(text[i+1:], c)
			if j < 0 {
				return out
			}
			i += j + 2
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
			j := i
			for j < len(text) && (text[j] >= 'a' && text[j] <= 'z' || text[j] >= 'A' && text[j] <= 'Z' || text[j] == '_' || text[j] >= '0' && text[j] <= '9') {
				j++
			}
			out = append(out, strings.ToUpper(string(text[i:j])))
			i = j
		default:
			i++
		}
	}
	return out
}

// namesDatabase reports whether text refers to database name as a
// qualifier: `name`. or name. (any case), wherever it stands.
func namesDatabase(text []byte, name string) bool {
	if name == "" {
		return false
	}
	low := bytes.ToLower(text)
	quoted := []byte("`" + strings.ReplaceAll(strings.ToLower(name), "`", "``") + "`")
	for i := 0; ; {
		j := bytes.Index(low[i:], quoted)
		if j < 0 {
			break
		}
		k := i + j + len(quoted)
		rest := bytes.TrimLeft(low[k:], " \t\r\n")
		if len(rest) > 0 && rest[0] == '.' {
			return true
		}
		i = k
	}
	bare := []byte(strings.ToLower(name))
	for i := 0; ; {
		j := bytes.Index(low[i:], bare)
		if j < 0 {
			return false
		}
		s, e := i+j, i+j+len(bare)
		before := s == 0 || !isIdentByte(low[s-1])
		rest := bytes.TrimLeft(low[e:], " \t\r\n")
		if before && len(rest) > 0 && rest[0] == '.' {
			return true
		}
		i = e
	}
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c >= 0x80 || c == '`'
}

// head is the start of a statement for a message, on one line.
func head(text []byte) string {
	s := oneLine(string(bytes.TrimSpace(text)))
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return strconv.Quote(s)
}

// ReplayOptions say how Replay runs the stock clients.
type ReplayOptions struct {
	Config   *mysql.Config // the server to replay into
	TLS      ClientTLS     // and with which TLS
	Staging  string        // the database the events go to
	TempDir  string        // for the client option file
	Binlog   string        // mariadb-binlog; "" for the one in PATH
	Client   string        // mariadb; "" for the one in PATH
	Progress func(bytes int64)
}

// Replay runs p: mariadb-binlog prints the events of p.Database from p.From
// to p.Stop, renamed to o.Staging, and the mariadb client runs them. The
// lines that would give replayed transactions their original GTIDs and
// server id are left out, so the server logs them as its own.
func Replay(ctx context.Context, p *Plan, o ReplayOptions) error {
	if strings.Contains(p.Database, "->") || strings.Contains(o.Staging, "->") {
		return fmt.Errorf("%w: a database name containing -> cannot be renamed by mariadb-binlog", ErrUnsafe)
	}
	cnf, err := writeClientConfig(o.TempDir, o.Config, o.TLS)
	if err != nil {
		return err
	}
	defer os.Remove(cnf)
	binArgs := []string{"--no-defaults", "--start-position=" + strconv.FormatInt(p.From.Pos, 10),
		"--stop-position=" + strconv.FormatInt(p.Stop.Pos, 10),
		"--database=" + p.Database, "--rewrite-db=" + p.Database + "->" + o.Staging, "--skip-annotate-row-events", "--"}
	for _, f := range p.Files {
		binArgs = append(binArgs, f.Path)
	}
	prog, client := o.Binlog, o.Client
	if prog == "" {
		prog = "mariadb-binlog"
	}
	if client == "" {
		client = "mariadb"
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src := exec.CommandContext(cctx, prog, binArgs...)
	dst := exec.CommandContext(cctx, client, "--defaults-file="+cnf, "--binary-mode", "--batch", "--skip-auto-rehash", "--", o.Staging)
	for _, c := range []*exec.Cmd{src, dst} {
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		c.Env = append(os.Environ(), "MYSQL_PWD=", "TZ=UTC")
		c.WaitDelay = 10 * time.Second
	}
	srcErr, dstErr := &lastLines{}, &lastLines{}
	src.Stderr, dst.Stderr = srcErr, dstErr
	out, err := src.StdoutPipe()
	if err != nil {
		return err
	}
	in, err := dst.StdinPipe()
	if err != nil {
		return err
	}
	if err := dst.Start(); err != nil {
		return fmt.Errorf("start %s: %w (install mariadb-client)", client, err)
	}
	if err := src.Start(); err != nil {
		in.Close()
		dst.Wait()
		return fmt.Errorf("start %s: %w (install mariadb-client)", prog, err)
	}
	rewrite := map[string]string{}
	for text, tables := range p.drops {
		rewrite[text+"\n"] = renamedDrop(text, o.Staging, tables) + "\n"
	}
	ferr := filterReplay(in, out, rewrite, o.Progress)
	in.Close()
	if ferr != nil {
		cancel()
	}
	serr := src.Wait()
	derr := dst.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case derr != nil:
		return fmt.Errorf("%w: %s", ErrReplay, oneLine(firstNonEmpty(dstErr.String(), derr.Error())))
	case serr != nil:
		return fmt.Errorf("%w: mariadb-binlog: %s", ErrReplay, oneLine(firstNonEmpty(srcErr.String(), serr.Error())))
	case ferr != nil:
		return fmt.Errorf("%w: %v", ErrReplay, ferr)
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}

// sessionGTID matches the lines mariadb-binlog prints for a GTID event
// that set the session's GTID and server id. They never occur inside a
// statement: PlanReplay refuses statements that contain /*!*/.
var sessionGTID = regexp.MustCompile(`^/\*M?!100001 SET @@session\.(gtid_domain_id|server_id|gtid_seq_no)=[0-9]+\*//\*!\*/;\r?\n$`)

// filterSessionGTID copies src to dst without the sessionGTID lines.
func filterSessionGTID(dst io.Writer, src io.Reader, progress func(int64)) error {
	return filterReplay(dst, src, nil, progress)
}

// filterReplay copies src to dst without the sessionGTID lines, and with
// every whole line that is a key of rewrite replaced by its value (the
// server's DROP TABLE statements, which name the source database; they
// are one line each, and no statement in the range holds /*!*/, so such a
// line is that statement).
func filterReplay(dst io.Writer, src io.Reader, rewrite map[string]string, progress func(int64)) error {
	br := bufio.NewReaderSize(src, 64<<10)
	atStart := true
	var n int64
	for {
		chunk, err := br.ReadSlice('\n')
		n += int64(len(chunk))
		drop := atStart && err == nil && sessionGTID.Match(chunk)
		if r, ok := rewrite[string(chunk)]; ok && atStart && err == nil {
			chunk, drop = []byte(r), false
		}
		if !drop && len(chunk) > 0 {
			if _, werr := dst.Write(chunk); werr != nil {
				return fmt.Errorf("the client stopped reading: %w", werr)
			}
		}
		switch err {
		case nil:
			atStart = true
		case bufio.ErrBufferFull:
			atStart = false
		case io.EOF:
			if progress != nil {
				progress(n)
			}
			return nil
		default:
			return err
		}
		if progress != nil && n&(1<<20-1) < int64(len(chunk)) {
			progress(n)
		}
	}
}
