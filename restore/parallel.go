package restore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"lms-backup/dbconn"
	"lms-backup/dumpfile"
	"lms-backup/dumpfile/sqlscript"
)

// loaders run data frames, and the ALTERs that add deferred keys, on
// connections of their own while the reader goes on. Every loader
// connection replays the dump's header frame first, so it loads under the
// same session settings (no foreign key or unique checks, UTC, sql_mode).
//
// Memory is bounded: a frame is copied into one of Threads+1 buffers, and
// the reader waits for a free one. A loader's failure cancels the others
// (their statements are KILLed) and is the error every later call returns.
type loaders struct {
	r       *runner
	jobs    chan job    // unbuffered: a loader takes a job when it is idle
	free    chan []byte // Threads+1 frame buffers
	conns   []*sql.Conn
	stops   []func()
	workers sync.WaitGroup
	pending sync.WaitGroup // jobs handed out and not finished
	ctx     context.Context
	cancel  context.CancelFunc
	closed  bool

	mu  sync.Mutex
	err error // the first failure
}

// job is a data frame (its Data in a buffer of free) or one statement.
type job struct {
	f    dumpfile.Frame
	stmt string
}

// maxKeptBuffer is the largest frame buffer kept for reuse; a buffer grown
// by one huge row is dropped after use.
const maxKeptBuffer = 4 << 20

// startLoaders opens opts.Threads loader connections on r.database and
// replays header on each.
func (r *runner) startLoaders(ctx context.Context, header *dumpfile.Frame) (*loaders, error) {
	n := r.opts.Threads
	lctx, cancel := context.WithCancel(ctx)
	l := &loaders{r: r, jobs: make(chan job), free: make(chan []byte, n+1), ctx: lctx, cancel: cancel}
	for range n + 1 {
		l.free <- nil
	}
	for range n {
		conn, stop, err := dbconn.Dedicated(lctx, r.db)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("open a loader connection: %w", err)
		}
		l.conns, l.stops = append(l.conns, conn), append(l.stops, stop)
		if err := useDatabase(lctx, conn, r.database); err != nil {
			l.close()
			return nil, err
		}
		sp := sqlscript.FrameSplitter(dumpfile.KindHeader)
		err = sp.Split(header.Data, func(s sqlscript.Statement) error {
			_, err := conn.ExecContext(lctx, string(s.Text))
			return err
		})
		if err != nil {
			l.close()
			return nil, fmt.Errorf("set up a loader connection: %w", err)
		}
		l.workers.Add(1)
		go l.work(conn)
	}
	return l, nil
}

func (l *loaders) work(conn *sql.Conn) {
	defer l.workers.Done()
	for j := range l.jobs {
		if l.failed() == nil {
			var err error
			if j.stmt != "" {
				if _, err = conn.ExecContext(l.ctx, j.stmt); err != nil {
					err = keyError(l.ctx, j.stmt, err)
				}
			} else {
				err = l.r.frame(l.ctx, conn, &j.f)
			}
			if err != nil {
				l.fail(err)
			}
		}
		if j.stmt == "" {
			buf := j.f.Data[:0]
			if cap(buf) > maxKeptBuffer {
				buf = nil
			}
			l.free <- buf
		}
		l.pending.Done()
	}
}

// fail records the first failure and stops the other loaders.
func (l *loaders) fail(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
	l.cancel()
}

func (l *loaders) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// stopped returns why the loaders stopped: a loader's failure, or the
// caller's cancel.
func (l *loaders) stopped() error {
	if err := l.failed(); err != nil {
		return err
	}
	return l.ctx.Err()
}

// send copies frame f and hands it to the next idle loader.
func (l *loaders) send(f *dumpfile.Frame) error {
	if err := l.failed(); err != nil {
		return err
	}
	var buf []byte
	select {
	case buf = <-l.free:
	case <-l.ctx.Done():
		return l.stopped()
	}
	j := job{f: *f}
	j.f.Data = append(buf, f.Data...)
	return l.hand(j)
}

func (l *loaders) hand(j job) error {
	l.pending.Add(1)
	select {
	case l.jobs <- j:
		return nil
	case <-l.ctx.Done():
		l.pending.Done()
		return l.stopped()
	}
}

// drain waits until every job handed out has finished.
func (l *loaders) drain() error {
	l.pending.Wait()
	return l.stopped()
}

// run runs statements spread over the loaders and waits for them.
func (l *loaders) run(stmts []string) error {
	for _, q := range stmts {
		if err := l.hand(job{stmt: q}); err != nil {
			return err
		}
	}
	return l.drain()
}

// close stops the loaders, ends their transactions and returns their
// connections. It returns the first failure.
func (l *loaders) close() error {
	if l.closed {
		return l.failed()
	}
	l.closed = true
	close(l.jobs)
	l.workers.Wait()
	for _, stop := range l.stops {
		stop()
	}
	for _, conn := range l.conns {
		// A failed loader's transaction holds locks on its table.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn.ExecContext(ctx, "ROLLBACK")
		cancel()
		conn.Close()
	}
	l.cancel()
	return l.failed()
}
