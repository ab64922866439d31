package binlog

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

var (
	// ErrNoBinlog means the server does not write a binary log.
	ErrNoBinlog = errors.New("binlog: the server's binary log is off")
	// ErrAccess means the account lacks a replication privilege.
	ErrAccess = errors.New("binlog: access denied")
	// ErrNoStart means there is nothing to start archiving from.
	ErrNoStart = errors.New("binlog: no starting point")
)

// ArchiverOptions configure Archiver.Run. Zero values mean defaults.
type ArchiverOptions struct {
	// StartFile is the file to start from when neither the archive nor the
	// spool holds anything yet (the binary log file of the oldest dump).
	// When the archive's next file has been purged on the server, a
	// StartFile after it accepts that gap.
	StartFile string
	// ReplicaID is the server id mariadb-binlog announces; 0 lets it choose.
	// Two archivers of one server need different ids.
	ReplicaID uint32
	// Poll is how often finished files are archived; 0 means 1 s.
	Poll time.Duration
	// MaxBackoff bounds the wait between reconnects; 0 means 30 s.
	MaxBackoff time.Duration
	// Program is the mariadb-binlog binary; "" means "mariadb-binlog".
	Program string
	// StallTimeout restarts mariadb-binlog when the spool has not grown
	// for this long while the server wrote to its binary log (a connection
	// that died without closing); 0 means 60 s.
	StallTimeout time.Duration
	// UploadEvery, when set, uploads the complete events of the file still
	// being written this often (when it grew) as a partial copy, and once
	// more at the end: a bucket's readers have no spool, so this bounds
	// what they can miss.
	UploadEvery time.Duration
	// OnSegment, when set, is called after each archived segment.
	OnSegment func(Manifest)
}

// Archiver streams a server's binary log into an Archive.
type Archiver struct {
	Archive *Archive
	Spool   Spool
	DB      *sql.DB       // for the checks and the list of binary logs
	Config  *mysql.Config // how mariadb-binlog connects
	TLS     ClientTLS     // and with which TLS
	Log     *slog.Logger
	Opts    ArchiverOptions

	last *Manifest // the newest archived segment

	partialKey  string    // file:end of the last partial upload
	partialTime time.Time // when it was made
}

// Check verifies that the server writes a usable binary log and that the
// account may list it. It logs a warning for settings that make a replay
// of one database unsafe.
func (a *Archiver) Check(ctx context.Context) error {
	var logBin int
	var format, image string
	err := a.DB.QueryRowContext(ctx, "SELECT @@log_bin, @@binlog_format, @@binlog_row_image").Scan(&logBin, &format, &image)
	if err != nil {
		return fmt.Errorf("read the binary log settings: %w", err)
	}
	if logBin == 0 {
		return fmt.Errorf("%w: set log_bin (and binlog_format=ROW, server_id) in the server's configuration and restart it", ErrNoBinlog)
	}
	if !strings.EqualFold(format, "ROW") {
		a.Log.Warn("binlog_format is not ROW: statements logged as text replay under the restored database's name only when they name no database; set binlog_format=ROW", "binlog_format", format)
	}
	if !strings.EqualFold(image, "FULL") {
		a.Log.Warn("binlog_row_image is not FULL: row events then hold only some columns, and a replay into a restored database can miss changes; set binlog_row_image=FULL", "binlog_row_image", image)
	}
	var compress string
	if err := a.DB.QueryRowContext(ctx, "SELECT @@log_bin_compress").Scan(&compress); err == nil && compress != "0" && !strings.EqualFold(compress, "OFF") {
		a.Log.Warn("log_bin_compress is on: compressed statements cannot be checked before a replay, and a restore --until over them is refused; turn it off")
	}
	if _, err := a.serverFiles(ctx); err != nil {
		return err
	}
	return nil
}

// serverFiles lists the server's binary log files.
func (a *Archiver) serverFiles(ctx context.Context) ([]string, error) {
	rows, err := a.DB.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) && (me.Number == 1227 || me.Number == 1045 || me.Number == 1142) {
			return nil, fmt.Errorf("%w: %v (GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* to this account)", ErrAccess, me.Message)
		}
		return nil, fmt.Errorf("list the server's binary logs: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		var name string
		vals[0] = &name
		for i := 1; i < len(vals); i++ {
			vals[i] = new(sql.RawBytes)
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, fmt.Errorf("list the server's binary logs: %w", err)
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// resume is where the next run of mariadb-binlog starts.
type resume struct {
	file string
	pos  int64 // 0: from the beginning
}

// Run archives until ctx is cancelled (then it archives what is finished
// and returns ctx's error), or until a gap or a lasting refusal (returned).
// A dropped connection or a server restart is retried with backoff from
// the last complete event in the spool.
func (a *Archiver) Run(ctx context.Context) error {
	poll, maxBackoff := a.Opts.Poll, a.Opts.MaxBackoff
	if poll == 0 {
		poll = time.Second
	}
	if maxBackoff == 0 {
		maxBackoff = 30 * time.Second
	}
	segs, err := a.Archive.Segments(ctx)
	if err != nil {
		return err
	}
	// A gap the user accepted before (--start-file) is marked in the
	// segment after it, and does not stop the archiver again; restores and
	// verify still see it.
	if err := checkChain(segs, true); err != nil {
		return err
	}
	if len(segs) > 0 {
		a.last = &segs[len(segs)-1]
	}
	backoff := time.Second
	for attempt := 0; ; attempt++ {
		if err := a.sweep(ctx, true); err != nil {
			return err
		}
		from, err := a.startPoint(ctx)
		if err == nil {
			started := time.Now()
			err = a.stream(ctx, from, poll)
			if time.Since(started) > time.Minute {
				backoff = time.Second
			}
		}
		if ctx.Err() != nil {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if serr := a.sweep(fctx, true); serr != nil {
				return serr
			}
			if a.Opts.UploadEvery > 0 {
				if perr := a.uploadPartial(fctx); perr != nil {
					return perr
				}
			}
			return ctx.Err()
		}
		if errors.Is(err, ErrGap) || errors.Is(err, ErrAccess) || errors.Is(err, ErrNoStart) || errors.Is(err, ErrCorrupt) {
			return err
		}
		a.Log.Warn("binary log stream interrupted; reconnecting", "err", err, "in", backoff.String())
		select {
		case <-ctx.Done():
			continue
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// startPoint works out where to continue and checks that the server still
// has that file.
func (a *Archiver) startPoint(ctx context.Context) (resume, error) {
	var from resume
	files, err := a.Spool.Files()
	if err != nil {
		return from, err
	}
	switch {
	case len(files) > 0:
		last := files[len(files)-1]
		asm, err := a.Spool.Assemble(last)
		if err != nil {
			return from, err
		}
		from = resume{file: last, pos: asm.End}
	case a.last != nil:
		next := a.last.Next
		if next == "" {
			if next, err = NextName(a.last.File); err != nil {
				return from, err
			}
		}
		from = resume{file: next}
	case a.Opts.StartFile != "":
		from = resume{file: a.Opts.StartFile}
	default:
		return from, fmt.Errorf("%w: the archive is empty and no dump in it records a binary log position: take a dump into it first (lms-backup dump -o DIR/) or give --start-file", ErrNoStart)
	}
	onServer, err := a.serverFiles(ctx)
	if err != nil {
		return from, err
	}
	for _, f := range onServer {
		if f == from.file {
			return from, nil
		}
	}
	if len(onServer) > 0 && FileLess(from.file, onServer[0]) {
		if s := a.Opts.StartFile; s != "" && !FileLess(s, onServer[0]) && FileLess(from.file, s) {
			a.Log.Warn("accepting a gap in the archive: restores can reach only moments after a dump taken from here on", "missing_from", from.file, "restart_at", s)
			return resume{file: s}, nil
		}
		return from, fmt.Errorf("%w: the server no longer has %s (its oldest binary log is %s): it was purged before it was archived; take a new dump, then start the archiver with --start-file %s to accept the gap", ErrGap, from.file, onServer[0], onServer[0])
	}
	return from, fmt.Errorf("the server has no binary log %s yet", from.file)
}

// stream runs mariadb-binlog from `from` until it exits or ctx ends,
// archiving finished files every poll.
func (a *Archiver) stream(ctx context.Context, from resume, poll time.Duration) error {
	run, err := a.Spool.NewRun()
	if err != nil {
		return err
	}
	cnf, err := writeClientConfig(a.Spool.Dir, a.Config, a.TLS)
	if err != nil {
		return err
	}
	defer os.Remove(cnf)
	args := []string{"--defaults-file=" + cnf, "--read-from-remote-server", "--raw", "--stop-never",
		"--result-file=" + run + string(filepath.Separator)}
	if a.Opts.ReplicaID != 0 {
		args = append(args, "--stop-never-slave-server-id="+strconv.FormatUint(uint64(a.Opts.ReplicaID), 10))
	}
	if from.pos > 4 {
		args = append(args, "--start-position="+strconv.FormatInt(from.pos, 10))
	}
	args = append(args, "--", from.file)
	prog := a.Opts.Program
	if prog == "" {
		prog = "mariadb-binlog"
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(cctx, prog, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stderr := &lastLines{}
	cmd.Stderr = stderr
	cmd.Env = append(os.Environ(), "MYSQL_PWD=") // the password is in the option file only
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: start %s: %v (install mariadb-client)", ErrNoStart, prog, err)
	}
	a.Log.Info("archiving the binary log", "from_file", from.file, "from_pos", max(from.pos, 4), "spool", run)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	stall := stallWatch{timeout: a.Opts.StallTimeout, since: time.Now()}
	if stall.timeout == 0 {
		stall.timeout = time.Minute
	}
	for {
		select {
		case werr := <-done:
			if serr := a.sweep(context.WithoutCancel(ctx), true); serr != nil {
				return serr
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return a.childError(werr, stderr.String())
		case <-tick.C:
			if err := a.sweep(ctx, false); err != nil {
				cancel()
				<-done
				return err
			}
			if a.Opts.UploadEvery > 0 && time.Since(a.partialTime) >= a.Opts.UploadEvery {
				if err := a.uploadPartial(ctx); err != nil {
					a.Log.Warn("could not upload the partial copy of the file being written; retrying", "err", err)
				}
			}
			if stall.stalled(ctx, a, run) {
				a.Log.Warn("mariadb-binlog received nothing while the server wrote to its binary log; restarting it", "for", stall.timeout.String())
				cancel()
				<-done
				return errors.New("the binary log stream stalled")
			}
		}
	}
}

// stallWatch notices a stream that stopped: the spool's newest piece has
// not grown for timeout while the server's binary log position moved.
type stallWatch struct {
	timeout time.Duration
	since   time.Time // when the piece last grew
	piece   string    // name and size of the newest piece then
	server  string    // the server's position then ("" before the first look)
	checked time.Time
}

func (w *stallWatch) stalled(ctx context.Context, a *Archiver, run string) bool {
	now := time.Now()
	if now.Sub(w.checked) < w.timeout/6 {
		return false
	}
	w.checked = now
	piece := newestPiece(run)
	var file string
	var pos int64
	var ignore1, ignore2 any
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.DB.QueryRowContext(qctx, "SHOW MASTER STATUS").Scan(&file, &pos, &ignore1, &ignore2); err != nil {
		return false // the server is away: mariadb-binlog notices that itself
	}
	server := fmt.Sprintf("%s:%d", file, pos)
	if piece != w.piece || w.server == "" {
		w.piece, w.server, w.since = piece, server, now
		return false
	}
	return server != w.server && now.Sub(w.since) >= w.timeout
}

// newestPiece names the newest file in a run folder, with its size.
func newestPiece(run string) string {
	entries, err := os.ReadDir(run)
	if err != nil || len(entries) == 0 {
		return ""
	}
	e := entries[len(entries)-1]
	info, err := e.Info()
	if err != nil {
		return e.Name()
	}
	return fmt.Sprintf("%s:%d", e.Name(), info.Size())
}

// childError turns mariadb-binlog's exit into one line.
func (a *Archiver) childError(werr error, stderr string) error {
	msg := strings.TrimSpace(stderr)
	if msg == "" && werr != nil {
		msg = werr.Error()
	}
	if msg == "" {
		msg = "mariadb-binlog exited"
	}
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "access denied") || strings.Contains(low, "replication slave privilege"):
		return fmt.Errorf("%w: %s (GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* to this account)", ErrAccess, oneLine(msg))
	case strings.Contains(low, "could not find first log file") || strings.Contains(low, "binlog truncated") && strings.Contains(low, "purged"):
		return fmt.Errorf("%w: %s", ErrGap, oneLine(msg))
	}
	return errors.New("mariadb-binlog: " + oneLine(msg))
}

// sweep archives every spooled file that is finished: a later file has
// begun, or it ends with a rotate or stop event.
//
// The newest file is read only when checkLast is set (at start and when
// mariadb-binlog exits): while it runs, the newest file is finished only
// once a later one begins, and reading it every poll would cost a scan
// of the whole file each time.
func (a *Archiver) sweep(ctx context.Context, checkLast bool) error {
	files, err := a.Spool.Files()
	if err != nil {
		return err
	}
	for i, f := range files {
		if i == len(files)-1 && !checkLast {
			break
		}
		asm, err := a.Spool.Assemble(f)
		if err != nil {
			return err
		}
		if i == len(files)-1 && !asm.Closed {
			break
		}
		if asm.End == 0 {
			continue
		}
		if a.last != nil && (f == a.last.File || FileLess(f, a.last.File)) {
			// Archived before a kill between the segment and the spool's cleanup.
			if err := a.Spool.Remove(f); err != nil {
				return err
			}
			continue
		}
		gap := false
		if a.last != nil {
			if err := follows(a.last, f); err != nil {
				if a.Opts.StartFile == "" || f != a.Opts.StartFile {
					return fmt.Errorf("%w: %v", ErrGap, err)
				}
				gap = true // accepted with --start-file; its manifest says so
			}
		}
		m, err := a.Archive.Put(ctx, f, gap, func() (io.ReadCloser, error) {
			pr, pw := io.Pipe()
			go func() { _, err := asm.WriteTo(pw); pw.CloseWithError(err) }()
			return pr, nil
		})
		if err != nil {
			return err
		}
		if a.last != nil && !gap {
			if err := checkState(a.last, &m); err != nil {
				a.Log.Warn("the GTID state does not follow on", "err", err)
			}
		}
		a.last = &m
		a.Log.Info("archived a binary log file", "file", f, "object", m.Object, "transactions", m.Transactions,
			"first_time", m.FirstTime, "last_time", m.LastTime, "last_gtid", m.LastGTID, "bytes", m.Size)
		if a.Opts.OnSegment != nil {
			a.Opts.OnSegment(m)
		}
		if err := a.Spool.Remove(f); err != nil {
			return err
		}
	}
	return nil
}

// uploadPartial uploads the newest spooled file's complete events when
// they changed since the last upload.
func (a *Archiver) uploadPartial(ctx context.Context) error {
	a.partialTime = time.Now()
	files, err := a.Spool.Files()
	if err != nil || len(files) == 0 {
		return err
	}
	last := files[len(files)-1]
	asm, err := a.Spool.Assemble(last)
	if err != nil || asm.End == 0 {
		return err
	}
	key := fmt.Sprintf("%s:%d", last, asm.End)
	if key == a.partialKey {
		return nil
	}
	m, err := a.Archive.PutPartial(ctx, last, func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { _, err := asm.WriteTo(pw); pw.CloseWithError(err) }()
		return pr, nil
	})
	if err != nil {
		return err
	}
	a.partialKey = key
	a.Log.Debug("uploaded the file being written", "file", last, "end_pos", m.End, "last_time", m.LastTime)
	return nil
}

// ClientTLS is the TLS the stock clients use, in the MySQL terms of
// --ssl-mode: DISABLED, PREFERRED ("" too), REQUIRED, VERIFY_CA,
// VERIFY_IDENTITY.
type ClientTLS struct {
	Mode          string
	CA, Cert, Key string
}

// writeClientConfig writes a 0600 option file for the stock clients, so
// that the password is in neither their argv nor their environment.
// PREFERRED is left to the client's default; the mariadb clients verify a
// certificate only with its host name, so VERIFY_CA checks the name too.
func writeClientConfig(dir string, cfg *mysql.Config, t ClientTLS) (string, error) {
	var b bytes.Buffer
	b.WriteString("[client]\n")
	put := func(k, v string) error {
		if strings.ContainsAny(v, "\n\r\x00") {
			return fmt.Errorf("the %s holds a line break, which an option file cannot carry", k)
		}
		b.WriteString(k + " = \"")
		b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v))
		b.WriteString("\"\n")
		return nil
	}
	if err := put("user", cfg.User); err != nil {
		return "", err
	}
	if cfg.Passwd != "" {
		if err := put("password", cfg.Passwd); err != nil {
			return "", err
		}
	}
	if cfg.Net == "unix" {
		if err := put("socket", cfg.Addr); err != nil {
			return "", err
		}
	} else {
		host, port := cfg.Addr, "3306"
		if i := strings.LastIndexByte(cfg.Addr, ':'); i >= 0 {
			host, port = strings.Trim(cfg.Addr[:i], "[]"), cfg.Addr[i+1:]
		}
		b.WriteString("protocol = TCP\n")
		if err := put("host", host); err != nil {
			return "", err
		}
		if err := put("port", port); err != nil {
			return "", err
		}
	}
	switch strings.ToUpper(t.Mode) {
	case "DISABLED":
		b.WriteString("skip-ssl\n")
	case "REQUIRED":
		b.WriteString("ssl\n")
	case "VERIFY_CA", "VERIFY_IDENTITY":
		b.WriteString("ssl\nssl-verify-server-cert\n")
	}
	for _, kv := range [][2]string{{"ssl-ca", t.CA}, {"ssl-cert", t.Cert}, {"ssl-key", t.Key}} {
		if kv[1] == "" {
			continue
		}
		if err := put(kv[0], kv[1]); err != nil {
			return "", err
		}
	}
	f, err := os.CreateTemp(dir, ".client-*.cnf")
	if err != nil {
		return "", fmt.Errorf("write the client option file: %w", err)
	}
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(b.Bytes())
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write the client option file: %w", err)
	}
	return f.Name(), nil
}

// lastLines keeps the last few KiB a child wrote to stderr.
type lastLines struct {
	mu  sync.Mutex
	buf []byte
}

func (l *lastLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if len(l.buf) > 4096 {
		l.buf = append(l.buf[:0], l.buf[len(l.buf)-4096:]...)
	}
	return len(p), nil
}

func (l *lastLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(l.buf)), "\n")
	return lines[len(lines)-1]
}

// oneLine makes a child's message one line with no control bytes.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
