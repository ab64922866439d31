package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/term"

	"lms-backup/atomicfile"
)

// createOutput starts writing path atomically with mode 0600, after
// removing what killed runs left while writing the same path.
func (e *appEnv) createOutput(path string) (*atomicfile.File, error) {
	swept, err := atomicfile.Sweep(path)
	if err != nil {
		e.log.Debug("could not sweep temporary files of earlier runs", "output", path, "err", err)
	}
	if len(swept) > 0 {
		e.log.Info("removed temporary files of an earlier run that was killed", "output", path, "files", swept)
	}
	return atomicfile.Create(path, 0o600)
}

// outputWriter marks every write error as an output error, so that a full
// disk maps to its exit code however deep in a pipeline it surfaces.
type outputWriter struct{ w io.Writer }

func (o outputWriter) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil {
		err = outputError{writeError(err)}
	}
	return n, err
}

// writeError says what to do about a failed write.
func writeError(err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("write output: %w (free space on the output's filesystem or write elsewhere; the previous file is untouched)", err)
	}
	return fmt.Errorf("write output: %w", err)
}

// outputFile is outputWriter for a file that can also be patched in place
// (io.WriterAt and io.Seeker), as the workbook writer needs for ZIP64.
type outputFile struct{ f *atomicfile.File }

func (o outputFile) Write(p []byte) (int, error) { return outputWriter{o.f}.Write(p) }

func (o outputFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := o.f.WriteAt(p, off)
	if err != nil {
		err = outputError{writeError(err)}
	}
	return n, err
}

func (o outputFile) Seek(offset int64, whence int) (int64, error) { return o.f.Seek(offset, whence) }

// terminal reports whether w is a terminal.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress draws one status line on stderr when stderr is a terminal and
// the user did not ask for quiet; otherwise it does nothing. With a total
// the line is a bar with percent, rate and ETA. It is redrawn in place at
// most five times a second and cleared by done. It is used from one
// goroutine at a time.
//
// Ours rather than a progress-bar library: one line, no goroutine of its
// own, nothing drawn unless stderr is a terminal (which the command layer
// already knows); the libraries we looked at (schollz/progressbar,
// vbauerster/mpb) bring render loops and their own terminal handling for
// what is some forty lines here.
type progress struct {
	w     io.Writer
	last  time.Time
	start time.Time
	used  bool
}

func (e *appEnv) newProgress() *progress {
	if e.quiet || e.jsonLogs || !terminal(e.stderr) {
		return &progress{}
	}
	return &progress{w: e.stderr, start: time.Now()}
}

func (p *progress) update(format string, args ...any) {
	if p.w == nil || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last, p.used = time.Now(), true
	fmt.Fprintf(p.w, "\r\033[K"+format, args...)
}

// bar draws done of total (a count of unit: "rows", "B" for bytes,
// "parts") with percent, rate and ETA, then text. A total of 0 or less
// (unknown) draws text alone.
func (p *progress) bar(done, total int64, unit, text string) {
	if total <= 0 {
		p.update("%s", text)
		return
	}
	const width = 24
	frac := min(float64(done)/float64(total), 1)
	if done < total {
		frac = min(frac, 0.99) // an estimate may be short: 100% only when done
	}
	filled := int(frac * width)
	elapsed := time.Since(p.start).Seconds()
	rate, eta := "", "ETA --:--"
	if elapsed > 0.5 && done > 0 {
		r := float64(done) / elapsed
		if unit == "B" {
			rate = formatBytes(int64(r)) + "/s"
		} else {
			rate = fmt.Sprintf("%s %s/s", compact(r), unit)
		}
		left := time.Duration(float64(max(total-done, 0)) / r * float64(time.Second))
		eta = fmt.Sprintf("ETA %d:%02d", int(left.Minutes()), int(left.Seconds())%60)
	}
	p.update("[%s%s] %3.0f%% %s %s  %s", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), frac*100, rate, eta, text)
}

// compact writes a rate as 950, 12.3k or 4.5M.
func compact(r float64) string {
	switch {
	case r >= 1e6:
		return fmt.Sprintf("%.1fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

// watch redraws a bar from a byte counter every 200 ms until the returned
// stop is called (then the line is cleared): for restore and verify,
// whose progress is the bytes of the file read so far.
func (p *progress) watch(read *atomic.Int64, total int64, text func() string) (stop func()) {
	if p.w == nil {
		return func() {}
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				p.last = time.Time{}
				p.bar(read.Load(), total, "B", text())
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		p.done()
	}
}

func (p *progress) done() {
	if p.used {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// countingReader counts the bytes read through it, for a progress bar.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
