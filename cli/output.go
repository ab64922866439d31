package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
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
// the user did not ask for quiet; otherwise it does nothing. It is used
// from one goroutine at a time.
type progress struct {
	w    io.Writer
	last time.Time
	used bool
}

func (e *appEnv) newProgress() *progress {
	if e.quiet || e.jsonLogs || !terminal(e.stderr) {
		return &progress{}
	}
	return &progress{w: e.stderr}
}

func (p *progress) update(format string, args ...any) {
	if p.w == nil || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last, p.used = time.Now(), true
	fmt.Fprintf(p.w, "\r\033[K"+format, args...)
}

func (p *progress) done() {
	if p.used {
		fmt.Fprint(p.w, "\r\033[K")
	}
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
