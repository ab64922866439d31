package dumpfile

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Writer writes frames to an underlying writer. It does not close that
// writer. It is not safe for concurrent use.
type Writer struct {
	w       io.Writer
	c       Compression
	zstd    *zstd.Encoder
	gzip    *gzip.Writer
	scratch []byte
	frames  int
	written int64
	err     error
}

// NewWriter returns a Writer that compresses each frame with c.
func NewWriter(w io.Writer, c Compression) (*Writer, error) {
	fw := &Writer{w: w, c: c}
	switch c {
	case Zstd:
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(true), zstd.WithWindowSize(1<<20))
		if err != nil {
			return nil, fmt.Errorf("start zstd: %w", err)
		}
		fw.zstd = enc
	case Gzip:
		gz, err := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression)
		if err != nil {
			return nil, fmt.Errorf("start gzip: %w", err)
		}
		fw.gzip = gz
	case None:
	default:
		return nil, fmt.Errorf("unknown compression %q", c)
	}
	return fw, nil
}

// WriteFrame appends the end marker for info to *content, compresses the
// frame and writes it. Bytes and CRC of info are computed here. *content is
// left holding the frame with its marker; the caller may reuse it. Errors
// are sticky: after the first, every call returns it.
func (fw *Writer) WriteFrame(content *[]byte, info FrameInfo) error {
	if fw.err != nil {
		return fw.err
	}
	*content = appendMarker(*content, info)
	var out []byte
	switch fw.c {
	case Zstd:
		fw.scratch = fw.zstd.EncodeAll(*content, fw.scratch[:0])
		out = fw.scratch
	case Gzip:
		buf := sliceWriter{b: fw.scratch[:0]}
		fw.gzip.Reset(&buf)
		if _, err := fw.gzip.Write(*content); err != nil {
			fw.err = fmt.Errorf("gzip frame: %w", err)
			return fw.err
		}
		if err := fw.gzip.Close(); err != nil {
			fw.err = fmt.Errorf("gzip frame: %w", err)
			return fw.err
		}
		fw.scratch = buf.b
		out = fw.scratch
	default:
		out = *content
	}
	n, err := fw.w.Write(out)
	fw.written += int64(n)
	if err != nil {
		fw.err = fmt.Errorf("write frame: %w", err)
		return fw.err
	}
	fw.frames++
	return nil
}

// Frames returns the number of frames written.
func (fw *Writer) Frames() int { return fw.frames }

// Written returns the number of bytes written to the underlying writer.
func (fw *Writer) Written() int64 { return fw.written }

// Close releases the compressor. It does not close the underlying writer.
func (fw *Writer) Close() error {
	if fw.zstd != nil {
		return fw.zstd.Close()
	}
	return nil
}

type sliceWriter struct{ b []byte }

func (s *sliceWriter) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}
