package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

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
func (e *appEnv) dumpToStore(c *cli.Context, run dumpRun) error {
	ctx, opts, loc := c.Context, &run.opts, run.output
	cfg, err := e.storageConfig(c)
	if err != nil {
		return err
	}
	store, key, err := storage.Open(ctx, loc, cfg)
	if err != nil {
		return outputError{fmt.Errorf("--output %s: %w", loc, err)}
	}
	nightly := key == ""
	if !nightly && (run.policy.Keep > 0 || run.policy.KeepDays > 0) {
		return usagef("--keep and --keep-days rotate a prefix of dumps: end --output with a slash (s3://BUCKET/PREFIX/)")
	}
	if nightly {
		ext, err := nightlyExt(run.compress, len(run.seal) > 0)
		if err != nil {
			return err
		}
		key = rotate.Name(opts.Database, time.Now(), ext)
	}
	if err := run.checkOutput(c, key); err != nil {
		return err
	}
	where := store.String() + key

	if nightly {
		unlock, err := e.lockStore(ctx, store, opts.Database)
		if err != nil {
			return err
		}
		defer unlock()
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
	if nightly && len(run.seal) > 0 {
		tee = newTeeVerify(ctx)
	}
	if err := mem.finish(e.dump(c, *opts, run.conn, where, storeObject{w}, mem, run.seal, tee)); err != nil {
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
	removed, err := rotateStore(ctx, store, opts.Database, key, run.policy)
	if err != nil {
		return err
	}
	if len(removed) > 0 {
		segs, err := e.pruneSegments(c, &place{store: store, loc: loc, remote: true})
		if err != nil {
			return storeOutputError(fmt.Errorf("rotate the binary log segments in %s: %w", loc, err))
		}
		removed = append(removed, segs...)
	}
	e.log.Info("nightly dump verified and rotated", "object", where, "rows", rep.Rows, "frames", rep.Frames,
		"deleted", removed, "keep", run.policy.Keep, "keep_days", run.policy.KeepDays)
	return nil
}

// lockStore takes the bucket lock of db's nightly dumps and removes the
// incomplete uploads its killed runs left. It returns the unlock.
func (e *appEnv) lockStore(ctx context.Context, store storage.Store, db string) (func(), error) {
	host, _ := os.Hostname()
	lock, err := store.Lock(ctx, "lms-backup-"+db, fmt.Sprintf("lms-backup dump %s on %s pid %d", db, host, os.Getpid()))
	if err != nil {
		return nil, storeOutputError(err)
	}
	unlock := func() {
		if uerr := lock.Unlock(ctx); uerr != nil {
			e.log.Warn("could not release the bucket lock; it expires by itself", "err", uerr)
		}
	}
	// The lock proves no run of this database is writing: every
	// incomplete upload of its dumps is a killed run's.
	cleaned, err := store.CleanIncomplete(ctx, db+"-", 0, func(name string) bool { return rotate.IsDump(db, name) })
	if err != nil {
		unlock()
		return nil, storeOutputError(fmt.Errorf("remove incomplete uploads of killed runs: %w", err))
	}
	if len(cleaned) > 0 {
		e.log.Info("removed incomplete uploads of earlier runs that were killed", "output", store.String(), "uploads", cleaned)
	}
	return unlock, nil
}

// rotateStore deletes the dumps of db under the store's prefix that the
// policy does not keep, never key (the dump just written), and returns
// their names.
func rotateStore(ctx context.Context, store storage.Store, db, key string, p rotate.Policy) ([]string, error) {
	objs, err := store.List(ctx, db+"-")
	if err != nil {
		return nil, storeOutputError(fmt.Errorf("rotate: %w", err))
	}
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.Name
	}
	p.Now = time.Now()
	var removed []string
	for _, name := range rotate.Expired(db, names, p) {
		if name == key {
			continue
		}
		if err := store.Delete(ctx, name); err != nil {
			return removed, storeOutputError(fmt.Errorf("rotate: delete %s: %w", name, err))
		}
		removed = append(removed, name)
	}
	return removed, nil
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

// storageConfig is the object-storage configuration: the AWS environment
// variables, and where one is unset the same setting from the defaults
// file (aws-access-key-id = ... in its [lms-backup] group): the
// environment over option files, as for the connection.
func (e *appEnv) storageConfig(c *cli.Context) (storage.Config, error) {
	cfg := storage.ConfigFromEnv()
	file, err := e.connOptions(c, "").ObjectStorageSettings()
	if err != nil {
		return cfg, err
	}
	for key, field := range map[string]*string{
		"aws-access-key-id": &cfg.AccessKeyID, "aws-secret-access-key": &cfg.SecretAccessKey,
		"aws-session-token": &cfg.SessionToken, "aws-region": &cfg.Region, "aws-endpoint-url": &cfg.Endpoint,
		"aws-profile": &cfg.Profile, "aws-ca-bundle": &cfg.CABundle,
	} {
		if *field == "" {
			*field = file[key]
		}
	}
	return cfg, nil
}
