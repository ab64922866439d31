package dumpfile

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// bound is where one compressed frame ends: in the decompressed text and
// in the file.
type bound struct{ text, file int64 }

// countReader counts the bytes read from r: under a bufio.Reader, that
// count less the bytes still buffered is the position in r (see source).
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// source is the buffered compressed input and the count under it. As a
// *bufio.Reader is an io.ByteReader, gzip reads one member and no further.
type source struct {
	*bufio.Reader
	under *countReader
}

// pos returns the number of bytes consumed from the buffered reader.
func (s source) pos() int64 { return s.under.n - int64(s.Buffered()) }

// frameText decompresses a file of whole compressed frames (zstd frames or
// gzip members) one at a time and records where each ends, so the reader
// can check the trailer's index against the file as it was read.
type frameText struct {
	src  source
	open func() (io.Reader, error) // starts the next compressed frame
	cur  io.Reader
	text int64
	ends []bound
}

func (t *frameText) Read(p []byte) (int, error) {
	for {
		if t.cur == nil {
			if _, err := t.src.Peek(1); err != nil {
				return 0, err
			}
			cur, err := t.open()
			if err != nil {
				return 0, err
			}
			t.cur = cur
		}
		n, err := t.cur.Read(p)
		t.text += int64(n)
		if err == io.EOF {
			t.ends = append(t.ends, bound{t.text, t.src.pos()})
			t.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

// newGzipText reads gzip members one at a time.
func newGzipText(src source) (*frameText, error) {
	gz, err := gzip.NewReader(src.Reader)
	if err != nil {
		return nil, err
	}
	gz.Multistream(false)
	first := true
	return &frameText{src: src, open: func() (io.Reader, error) {
		if first {
			first = false
			return gz, nil
		}
		if err := gz.Reset(src.Reader); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		gz.Multistream(false)
		return gz, nil
	}}, nil
}

// newZstdText reads zstd frames one at a time: zstdFrame passes one
// frame's bytes to dec and then reports io.EOF.
func newZstdText(src source, dec *zstd.Decoder) *frameText {
	seg := &zstdFrame{src: src}
	return &frameText{src: src, open: func() (io.Reader, error) {
		*seg = zstdFrame{src: src}
		if err := dec.Reset(seg); err != nil {
			return nil, err
		}
		return dec, nil
	}}
}

// zstdFrame is an io.Reader of exactly one zstd frame of src: it follows
// the frame header and block headers (RFC 8878, section 3.1.1) to know
// where the frame ends.
type zstdFrame struct {
	src      source
	state    int // 0 frame header, 1 block header, 2 checksum, 3 done
	checksum bool
	pending  []byte // header bytes read but not yet passed on
	left     int64  // bytes of the current block not yet passed on
	hdr      [18]byte
}

func (z *zstdFrame) Read(p []byte) (int, error) {
	for len(z.pending) == 0 && z.left == 0 {
		if err := z.advance(); err != nil {
			return 0, err
		}
	}
	if len(z.pending) > 0 {
		n := copy(p, z.pending)
		z.pending = z.pending[n:]
		return n, nil
	}
	if int64(len(p)) > z.left {
		p = p[:z.left]
	}
	n, err := z.src.Read(p)
	z.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// advance reads the next header of the frame into pending.
func (z *zstdFrame) advance() error {
	read := func(n int) ([]byte, error) {
		b := z.hdr[len(z.pending) : len(z.pending)+n]
		if _, err := io.ReadFull(z.src, b); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		z.pending = z.hdr[:len(z.pending)+n]
		return b, nil
	}
	z.pending = z.hdr[:0]
	switch z.state {
	case 0:
		b, err := read(5)
		if err != nil {
			return err
		}
		if binary.LittleEndian.Uint32(b) != 0xFD2FB528 {
			return fmt.Errorf("no zstd frame starts at byte %d", z.src.pos()-5)
		}
		fhd := b[4]
		single := fhd&0x20 != 0
		z.checksum = fhd&0x04 != 0
		n := [4]int{0, 1, 2, 4}[fhd&3] + [4]int{0, 2, 4, 8}[fhd>>6]
		if !single {
			n++ // window descriptor
		} else if fhd>>6 == 0 {
			n++ // one-byte content size
		}
		if _, err := read(n); err != nil {
			return err
		}
		z.state = 1
	case 1:
		b, err := read(3)
		if err != nil {
			return err
		}
		h := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
		switch size := int64(h >> 3); (h >> 1) & 3 {
		case 0, 2: // raw, compressed
			z.left = size
		case 1: // RLE: one byte
			z.left = 1
		default:
			return fmt.Errorf("reserved zstd block type at byte %d", z.src.pos()-3)
		}
		if h&1 != 0 {
			z.state = 2
		}
	case 2:
		z.state = 3
		if z.checksum {
			_, err := read(4)
			return err
		}
	default:
		return io.EOF
	}
	return nil
}
