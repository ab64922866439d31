package dump

import (
	"context"
	"sync/atomic"

	"lms-backup/dumpfile"
)

// frameBuf is a frame being filled by the dumper.
type frameBuf struct {
	buf  []byte
	info dumpfile.FrameInfo
	// trailer, set on the last frame only, is completed by the writer
	// (frame count and index) and appended to buf just before writing.
	trailer *dumpfile.Trailer
}

// pipeSpare is how many frame buffers the pipe has beyond one per reading
// connection: one waiting in the channel, one being compressed (the meta
// connection's small schema frames borrow one briefly). Memory is
// (readers + pipeSpare) x frame size.
const pipeSpare = 2

// pipe hands frames from the dumping goroutines to a writer goroutine that
// compresses and writes them in the order they were sent. Its methods are
// safe for concurrent use.
type pipe struct {
	fw    *dumpfile.Writer
	full  chan *frameBuf // size 1: lets the readers fill the next frames while one is compressed
	free  chan *frameBuf // holds every idle buffer
	done  chan struct{}  // closed when the writer goroutine has ended
	fail  chan struct{}  // closed at the writer's first error
	err   error          // the writer's first error; read after fail or done is closed
	bytes atomic.Int64
	// keep is the largest buffer capacity worth keeping for reuse: twice
	// the current frame size, so buffers shrink when frames do.
	keep atomic.Int64
}

// newPipe starts the writer goroutine with depth frame buffers; at least
// one more than the goroutines that hold one while they fill it.
func newPipe(fw *dumpfile.Writer, depth int) *pipe {
	p := &pipe{fw: fw, full: make(chan *frameBuf, 1), free: make(chan *frameBuf, depth),
		done: make(chan struct{}), fail: make(chan struct{})}
	for range depth {
		p.free <- &frameBuf{}
	}
	go p.write()
	return p
}

func (p *pipe) write() {
	defer close(p.done)
	for fb := range p.full {
		if p.err == nil {
			if fb.trailer != nil {
				fb.buf = p.fw.AppendTrailer(fb.buf, fb.trailer)
				fb.trailer = nil
			}
			if p.err = p.fw.WriteFrame(&fb.buf, fb.info); p.err != nil {
				close(p.fail)
			}
			p.bytes.Store(p.fw.Written())
		}
		if k := p.keep.Load(); k > 0 && int64(cap(fb.buf)) > k {
			fb.buf = nil // let a smaller buffer grow in its place
		}
		fb.buf = fb.buf[:0]
		p.free <- fb
	}
}

// get returns an empty frame buffer.
func (p *pipe) get(ctx context.Context) (*frameBuf, error) {
	select {
	case fb := <-p.free:
		return fb, nil
	case <-p.fail:
		return nil, p.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// send queues a filled frame for writing.
func (p *pipe) send(ctx context.Context, fb *frameBuf) error {
	select {
	case p.full <- fb:
		return nil
	case <-p.fail:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// written returns the bytes written so far.
func (p *pipe) written() int64 { return p.bytes.Load() }

// close waits for every queued frame to be written and returns the
// writer's first error.
func (p *pipe) close() error {
	close(p.full)
	<-p.done
	return p.err
}
