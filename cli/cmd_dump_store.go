package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"lms-backup/dump"
	"lms-backup/dumpfile"
	"lms-backup/dumpfile/sqlscript"
	"lms-backup/rotate"
	"lms-backup/storage"
)

// dumpToStore runs a dump to a bucket: -o s3://BUCKET/PREFIX/ is a nightly
// prefix (named dumps, the database's lock, incomplete uploads of killed
// runs removed, the new dump verified from the stream as it is uploaded,
// then --keep/--keep-days rotation), -o s3://BUCKET/KEY one object. The
// object appears under its name only when complete.
func (e *appEnv) dumpToStore(c *cli.Context, opts dump.Options, loc string) error {
	ctx := c.Context
	seal, err := recipients(c)
	if err != nil {
		return err
	}
	keep, keepDays := c.Int("keep"), c.Int("keep-days")
	if keep < 0 || keepDays < 0 {
		return usagef("--keep and --keep-days must be 0 or more")
	}
	store, key, err := storage.Open(ctx, loc, storage.ConfigFromEnv())
	if err != nil {
		return outputError{fmt.Errorf("--output %s: %w", loc, err)}
	}
	nightly := key == ""
	if !nightly && (keep > 0 || keepDays > 0) {
		return usagef("--keep and --keep-days rotate a prefix of dumps: end --output with a slash (s3://BUCKET/PREFIX/)")
	}
	if nightly {
		ext, err := nightlyExt(c, len(seal) > 0)
		if err != nil {
			return err
		}
		key = rotate.Name(opts.Database, time.Now(), ext)
	}
	if strings.HasSuffix(key, ".age") && len(seal) == 0 {
		return usagef("--output %s ends in .age but nothing says whom to encrypt to: pass --encrypt-to or --recipients-file", loc)
	}
	if opts.Compression, err = outputCompression(c.String("compress"), strings.TrimSuffix(key, ".age")); err != nil {
		return err
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	conn := e.connOptions(c, opts.Database)
	if err := conn.Validate(); err != nil {
		return err
	}
	where := store.String() + key

	if nightly {
		host, _ := os.Hostname()
		lock, err := store.Lock(ctx, "lms-backup-"+opts.Database, fmt.Sprintf("lms-backup dump %s on %s pid %d", opts.Database, host, os.Getpid()))
		if err != nil {
			return storeOutputError(err)
		}
		defer func() {
			if uerr := lock.Unlock(ctx); uerr != nil {
				e.log.Warn("could not release the bucket lock; it expires by itself", "err", uerr)
			}
		}()
		// The lock proves no run of this database is writing: every
		// incomplete upload of its dumps is a killed run's.
		cleaned, err := store.CleanIncomplete(ctx, opts.Database+"-", 0, func(name string) bool { return rotate.IsDump(opts.Database, name) })
		if err != nil {
			return storeOutputError(fmt.Errorf("remove incomplete uploads of killed runs: %w", err))
		}
		if len(cleaned) > 0 {
			e.log.Info("removed incomplete uploads of earlier runs that were killed", "output", store.String(), "uploads", cleaned)
		}
	}
	w, err := store.Create(ctx, key)
	if err != nil {
		return storeOutputError(err)
	}
	defer w.Abort()
	mem, err := e.startMem(c, "dump", os.TempDir())
	if err != nil {
		return err
	}
	// An encrypted nightly dump is verified from the stream as it is
	// uploaded (the backup host has no key to read it back); any other
	// nightly dump is read back from the bucket after the upload, which
	// also proves what the bucket holds, and keeps the verifier's memory
	// out of the dump's.
	var tee *teeVerify
	if nightly && len(seal) > 0 {
		tee = newTeeVerify(ctx)
	}
	if err := mem.finish(e.dump(c, opts, conn, where, storeObject{w}, mem, seal, tee)); err != nil {
		return err
	}
	if !nightly {
		return nil
	}
	var rep *sqlscript.Report
	if tee != nil {
		rep = tee.report
	} else if rep, err = verifyObject(ctx, store, key); err != nil {
		return fmt.Errorf("verify the new dump %s: %w (old dumps were kept)", where, err)
	}
	objs, err := store.List(ctx, opts.Database+"-")
	if err != nil {
		return storeOutputError(fmt.Errorf("rotate: %w", err))
	}
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Name
	}
	var removed []string
	for _, name := range rotate.Expired(opts.Database, names, rotate.Policy{Keep: keep, KeepDays: keepDays, Now: time.Now()}) {
		if name == key {
			continue // never the dump just written
		}
		if err := store.Delete(ctx, name); err != nil {
			return storeOutputError(fmt.Errorf("rotate: delete %s: %w", name, err))
		}
		removed = append(removed, name)
	}
	e.log.Info("nightly dump verified and rotated", "object", where, "rows", rep.Rows, "frames", rep.Frames,
		"deleted", removed, "keep", keep, "keep_days", keepDays)
	return nil
}

// storeObject makes a storage.Writer an outputObject whose write errors are
// output errors (exit 5).
type storeObject struct{ w storage.Writer }

func (s storeObject) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s storeObject) Commit() error {
	if err := s.w.Commit(); err != nil {
		return storeOutputError(err)
	}
	return nil
}

// storeOutputError maps a store's failure on the output side: a lock held
// by another run is exit 8 (busy), the rest exit 5 (output).
func storeOutputError(err error) error {
	if errors.Is(err, storage.ErrLocked) {
		return fmt.Errorf("%w: %w", rotate.ErrBusy, err)
	}
	return outputError{err}
}

var _ outputObject = storeObject{}

// verifyObject reads a dump back from the store and verifies it.
func verifyObject(ctx context.Context, store storage.Store, key string) (*sqlscript.Report, error) {
	rc, err := store.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	rd, err := dumpfile.NewReader(rc)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return sqlscript.Verify(ctx, rd)
}
