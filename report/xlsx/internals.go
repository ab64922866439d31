package xlsx

// This file is the only place that touches excelize internals: the
// unexported buffer of a StreamWriter, reached by reflection. Everything
// else in the package uses excelize's public API. TestExcelizeLayout (fast,
// always run) fails when an excelize upgrade moves what this file expects;
// if the layout is missing at run time, spill and releaseStreamBuffer do
// nothing and the workbook is still right, only bigger on the heap
// (TestXLSXMemory then fails).

import (
	"bytes"
	"os"
	"reflect"
	"unsafe"

	"github.com/xuri/excelize/v2"
)

// spillBytes is how much sheet XML may collect in memory before it
// moves to the sheet's temp file (excelize itself waits for 16 MiB, and
// keeps a finished sheet below that in memory until the workbook is
// written: with five parts that is up to 80 MiB).
const spillBytes = 1 << 20

// streamBuffer finds excelize v2.10's unexported
// StreamWriter.rawData bufferedWriter{tmpDir, tmp *os.File, buf
// bytes.Buffer} and returns pointers to its tmp and buf fields; ok is
// false if the layout differs.
func streamBuffer(sw *excelize.StreamWriter) (tmp **os.File, buf *bytes.Buffer, ok bool) {
	rd := reflect.ValueOf(sw).Elem().FieldByName("rawData")
	if !rd.IsValid() || rd.Kind() != reflect.Struct {
		return nil, nil, false
	}
	t, b := rd.FieldByName("tmp"), rd.FieldByName("buf")
	if !t.IsValid() || t.Type() != reflect.TypeFor[*os.File]() || !t.CanAddr() ||
		!b.IsValid() || b.Type() != reflect.TypeFor[bytes.Buffer]() || !b.CanAddr() {
		return nil, nil, false
	}
	return (**os.File)(unsafe.Pointer(t.UnsafeAddr())), (*bytes.Buffer)(unsafe.Pointer(b.UnsafeAddr())), true
}

// spill moves the buffered XML of sw to its temp file (creating it in
// dir, where excelize's own Close removes it) when at least min bytes are
// buffered. If the layout differs it does nothing.
func spill(sw *excelize.StreamWriter, dir string, min int) error {
	f, b, ok := streamBuffer(sw)
	if !ok {
		return nil
	}
	if b.Len() < min || (min > 0 && b.Len() == 0) {
		return nil
	}
	if *f == nil {
		t, err := os.CreateTemp(dir, "excelize-")
		if err != nil {
			return err
		}
		*f = t
	}
	_, err := b.WriteTo(*f)
	return err
}

// releaseStreamBuffer frees the in-memory buffer of a flushed
// StreamWriter whose XML has spilled to its temp file. excelize v2.10
// keeps that buffer (bytes.Buffer.Reset keeps the capacity, 16-20 MiB)
// until File.Close, so without this every spilled sheet adds ~20 MiB to
// the heap until the workbook is written (measured: 4 sheets of 150,000
// rows peaked at 148 MiB). If the layout differs this does nothing.
func releaseStreamBuffer(sw *excelize.StreamWriter) {
	f, b, ok := streamBuffer(sw)
	if !ok || *f == nil {
		return // not spilled: the buffer holds the sheet
	}
	if b.Len() == 0 {
		*b = bytes.Buffer{}
	}
}
