package binlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"lms-backup/storage"
)

// ErrGap means the archive does not hold every event from a point on: a
// file was purged on the server before it was archived, or two segments
// do not follow each other.
var ErrGap = errors.New("binlog: gap in the archived binary log")

// Segment objects are named ObjectPrefix + the server's file name +
// ".zst" (".zst.age" when encrypted), their manifests the same with
// ".json"; the server's names (BASE.NNNNNN) sort in order.
const ObjectPrefix = "lms-binlog."

const manifestExt = ".json"

// PartialPrefix names the copy of the file still being written that the
// archiver uploads every ArchiverOptions.UploadEvery (to a bucket, whose
// readers have no spool): PartialPrefix + file + ".zst", and its manifest.
// It is not under ObjectPrefix, so segment listings never see it.
const PartialPrefix = "lms-binlog-partial."

// Archive is where segments are kept, and how they are sealed.
type Archive struct {
	Store storage.Store
	// Seal, when set, wraps a segment's compressed stream (encryption);
	// Close of what it returns must flush and not close w.
	Seal func(w io.Writer) (io.WriteCloser, error)
	// Unseal undoes Seal on reading.
	Unseal func(r io.Reader) (io.Reader, error)
}

// IsArchiveObject reports whether an object name belongs to the archive.
func IsArchiveObject(name string) bool { return strings.HasPrefix(name, ObjectPrefix) }

// Segments returns the manifests of the archived segments, in file order.
func (a *Archive) Segments(ctx context.Context) ([]Manifest, error) {
	objs, err := a.Store.List(ctx, ObjectPrefix)
	if err != nil {
		return nil, err
	}
	var out []Manifest
	for _, o := range objs {
		if !strings.HasSuffix(o.Name, manifestExt) {
			continue
		}
		m, err := a.readManifest(ctx, o.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(x, y Manifest) int {
		if FileLess(x.File, y.File) {
			return -1
		}
		if FileLess(y.File, x.File) {
			return 1
		}
		return 0
	})
	return out, nil
}

func (a *Archive) readManifest(ctx context.Context, name string) (Manifest, error) {
	return a.readManifestAs(ctx, ObjectPrefix, name)
}

func (a *Archive) readManifestAs(ctx context.Context, prefix, name string) (Manifest, error) {
	rc, err := a.Store.Open(ctx, name)
	if err != nil {
		return Manifest{}, err
	}
	defer rc.Close()
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&m); err != nil {
		return m, fmt.Errorf("read manifest %s: %w", name, err)
	}
	if m.File == "" || prefix+m.File+manifestExt != name || (m.Object != prefix+m.File+".zst" && m.Object != prefix+m.File+".zst.age") {
		return m, fmt.Errorf("%w: manifest %s does not describe its segment", ErrCorrupt, name)
	}
	return m, nil
}

// Put archives a finished file: it reads the file twice from open (once to
// describe it, once to compress it), writes the segment and then its
// manifest, each atomically. The partial copy of the file, if any, is
// removed after. gapBefore records that the file does not follow the
// previous segment and that this was accepted.
func (a *Archive) Put(ctx context.Context, file string, gapBefore bool, open func() (io.ReadCloser, error)) (Manifest, error) {
	m, err := a.put(ctx, ObjectPrefix, file, gapBefore, open)
	if err == nil {
		a.deletePartial(ctx, file)
	}
	return m, err
}

// PutPartial uploads the complete events of the file still being written
// (open must yield only complete events), replacing the previous partial
// copy; partial copies of other files are removed.
func (a *Archive) PutPartial(ctx context.Context, file string, open func() (io.ReadCloser, error)) (Manifest, error) {
	m, err := a.put(ctx, PartialPrefix, file, false, open)
	if err != nil {
		return m, err
	}
	objs, err := a.Store.List(ctx, PartialPrefix)
	if err == nil {
		for _, o := range objs {
			if strings.HasSuffix(o.Name, manifestExt) && o.Name != PartialPrefix+file+manifestExt {
				a.deletePartial(ctx, strings.TrimSuffix(strings.TrimPrefix(o.Name, PartialPrefix), manifestExt))
			}
		}
	}
	return m, nil
}

// Partial returns the manifest of the partial copy, if there is one.
func (a *Archive) Partial(ctx context.Context) (*Manifest, error) {
	objs, err := a.Store.List(ctx, PartialPrefix)
	if err != nil {
		return nil, err
	}
	var newest *Manifest
	for _, o := range objs {
		if !strings.HasSuffix(o.Name, manifestExt) {
			continue
		}
		m, err := a.readManifestAs(ctx, PartialPrefix, o.Name)
		if err != nil {
			return nil, err
		}
		if newest == nil || FileLess(newest.File, m.File) {
			newest = &m
		}
	}
	return newest, nil
}

// FetchPartial writes the partial copy of file to path, as Fetch does, and
// returns the manifest it matched. The archiver replaces the copy and then
// its manifest while a reader may be between the two: a copy that does not
// match, or is gone, is read again with the manifest as it is then.
func (a *Archive) FetchPartial(ctx context.Context, file, path string) (Manifest, error) {
	var err error
	for range 10 {
		var m *Manifest
		if m, err = a.Partial(ctx); err != nil {
			return Manifest{}, err
		}
		if m == nil || m.File != file {
			return Manifest{}, fmt.Errorf("%w: the partial copy of %s is gone (the file was archived meanwhile: run again)", ErrGap, file)
		}
		if err = a.Fetch(ctx, *m, path); err == nil {
			return *m, nil
		}
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, storage.ErrNotFound) {
			return Manifest{}, err
		}
		select {
		case <-ctx.Done():
			return Manifest{}, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	return Manifest{}, err
}

func (a *Archive) deletePartial(ctx context.Context, file string) {
	a.Store.Delete(ctx, PartialPrefix+file+manifestExt)
	for _, ext := range []string{".zst", ".zst.age"} {
		a.Store.Delete(ctx, PartialPrefix+file+ext)
	}
}

func (a *Archive) put(ctx context.Context, prefix, file string, gapBefore bool, open func() (io.ReadCloser, error)) (Manifest, error) {
	rc, err := open()
	if err != nil {
		return Manifest{}, err
	}
	m, err := Summarize(rc, false)
	rc.Close()
	if err != nil {
		return m, fmt.Errorf("archive %s: %w", file, err)
	}
	m.File = file
	m.GapBefore = gapBefore
	m.Object = prefix + file + ".zst"
	if a.Seal != nil {
		m.Object += ".age"
	}
	if err := a.writeSegment(ctx, m, open); err != nil {
		return m, err
	}
	m.Archived = time.Now().UTC()
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	w, err := a.Store.Create(ctx, prefix+file+manifestExt)
	if err != nil {
		return m, fmt.Errorf("write manifest of %s: %w", file, err)
	}
	defer w.Abort()
	if _, err := w.Write(append(body, '\n')); err != nil {
		return m, fmt.Errorf("write manifest of %s: %w", file, err)
	}
	if err := w.Commit(); err != nil {
		return m, fmt.Errorf("write manifest of %s: %w", file, err)
	}
	return m, nil
}

func (a *Archive) writeSegment(ctx context.Context, m Manifest, open func() (io.ReadCloser, error)) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	w, err := a.Store.Create(ctx, m.Object)
	if err != nil {
		return fmt.Errorf("write segment %s: %w", m.Object, err)
	}
	defer w.Abort()
	var sink io.Writer = w
	var sealed io.WriteCloser
	if a.Seal != nil {
		if sealed, err = a.Seal(w); err != nil {
			return err
		}
		sink = sealed
	}
	zw, err := zstd.NewWriter(sink, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(zw, h), io.LimitReader(rc, m.Size))
	if err == nil && n != m.Size {
		err = fmt.Errorf("%s changed while it was archived", m.File)
	}
	if err == nil && hex.EncodeToString(h.Sum(nil)) != m.SHA256 {
		err = fmt.Errorf("%s changed while it was archived", m.File)
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if sealed != nil {
		if cerr := sealed.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = w.Commit()
	}
	if err != nil {
		return fmt.Errorf("write segment %s: %w", m.Object, err)
	}
	return nil
}

// Fetch writes segment m's binary log file to path (mode 0600) and checks
// it against the manifest.
func (a *Archive) Fetch(ctx context.Context, m Manifest, path string) error {
	rc, err := a.Store.Open(ctx, m.Object)
	if err != nil {
		return fmt.Errorf("read segment %s: %w", m.Object, err)
	}
	defer rc.Close()
	var in io.Reader = rc
	if strings.HasSuffix(m.Object, ".age") {
		if a.Unseal == nil {
			return fmt.Errorf("segment %s is encrypted: give --identity", m.Object)
		}
		if in, err = a.Unseal(rc); err != nil {
			return fmt.Errorf("decrypt segment %s: %w", m.Object, err)
		}
	}
	zr, err := zstd.NewReader(in, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		return err
	}
	defer zr.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), zr)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read segment %s: %w", m.Object, err)
	}
	if n != m.Size || hex.EncodeToString(h.Sum(nil)) != m.SHA256 {
		return fmt.Errorf("%w: segment %s does not match its manifest (size or SHA-256)", ErrCorrupt, m.Object)
	}
	return nil
}

// Delete removes a segment and its manifest (the manifest first, so that
// a segment without one is never listed as archived).
func (a *Archive) Delete(ctx context.Context, m Manifest) error {
	if err := a.Store.Delete(ctx, ObjectPrefix+m.File+manifestExt); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if err := a.Store.Delete(ctx, m.Object); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return nil
}

// CheckChain reports the first place where segs (in file order) do not
// follow each other, as an ErrGap; also a gap that was accepted.
func CheckChain(segs []Manifest) error { return checkChain(segs, false) }

// checkChain is CheckChain that, with accepted, passes over the gaps the
// segments after them record as accepted.
func checkChain(segs []Manifest, accepted bool) error {
	for i := 1; i < len(segs); i++ {
		if accepted && segs[i].GapBefore {
			continue
		}
		if err := follows(&segs[i-1], segs[i].File); err != nil {
			return fmt.Errorf("%w: %v", ErrGap, err)
		}
		if err := checkState(&segs[i-1], &segs[i]); err != nil {
			return fmt.Errorf("%w: %v", ErrGap, err)
		}
	}
	return nil
}
