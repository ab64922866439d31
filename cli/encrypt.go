package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"lms-backup/dumpfile"
	"lms-backup/dumpfile/sqlscript"
)

// ageMagic starts every age-encrypted file.
const ageMagic = "age-encryption.org/v1\n"

// errDecrypt marks a dump that cannot be decrypted with the identities given.
var errDecrypt = errors.New("cannot decrypt the dump")

const cryptCategory = "Encryption (age)"

func encryptFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "encrypt-to", Category: cryptCategory,
			Usage: "encrypt the dump to this age recipient (age1...; repeat for several); restore and verify then need --identity"},
		&cli.StringFlag{Name: "recipients-file", Category: cryptCategory, Usage: "encrypt to every age recipient listed in this file"},
	}
}

func identityFlag() cli.Flag {
	return &cli.StringFlag{Name: "identity", Aliases: []string{"i"}, Category: cryptCategory,
		Usage: "age identity file (AGE-SECRET-KEY-...) to decrypt an encrypted dump"}
}

// recipients reads --encrypt-to and --recipients-file; none means no encryption.
func recipients(c *cli.Context) ([]age.Recipient, error) {
	var out []age.Recipient
	for _, r := range c.StringSlice("encrypt-to") {
		rs, err := age.ParseRecipients(strings.NewReader(r))
		if err != nil {
			return nil, usagef("--encrypt-to %q: %v (an age recipient looks like age1...)", r, err)
		}
		out = append(out, rs...)
	}
	if path := c.String("recipients-file"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usagef("--recipients-file: %v", unwrapPath(err))
		}
		defer f.Close()
		rs, err := age.ParseRecipients(f)
		if err != nil {
			return nil, usagef("--recipients-file %s: %v", path, err)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// decrypting returns in, decrypted with --identity when it is an age file.
// An encrypted dump without --identity is a usage error; a wrong identity
// or a damaged age header is errDecrypt.
func decrypting(c *cli.Context, in io.Reader, name string) (io.Reader, error) {
	br := bufio.NewReader(in)
	head, _ := br.Peek(len(ageMagic))
	if !bytes.Equal(head, []byte(ageMagic)) {
		if c.String("identity") != "" {
			return nil, usagef("%s is not encrypted: leave out --identity", name)
		}
		return br, nil
	}
	path := c.String("identity")
	if path == "" {
		return nil, usagef("%s is encrypted (age): pass --identity FILE with its secret key", name)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("--identity: %v", unwrapPath(err))
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, usagef("--identity %s: %v", path, err)
	}
	r, err := age.Decrypt(br, ids...)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return nil, fmt.Errorf("%w %s: the key in %s is not one it was encrypted to", errDecrypt, name, path)
		}
		return nil, fmt.Errorf("%w %s: %v", errDecrypt, name, err)
	}
	return r, nil
}

// teeVerify verifies a dump from a copy of the stream being written: an
// io.Writer whose bytes a goroutine reads as a dump and checks. Writes
// block while the verifier is behind (bounded memory); after the verifier
// fails it keeps draining, so the dump is never stuck.
type teeVerify struct {
	pw     *io.PipeWriter
	done   chan struct{}
	report *sqlscript.Report
	err    error
}

func newTeeVerify(ctx context.Context) *teeVerify {
	pr, pw := io.Pipe()
	t := &teeVerify{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		defer io.Copy(io.Discard, pr)
		rd, err := dumpfile.NewReader(pr)
		if err != nil {
			t.err = err
			return
		}
		defer rd.Close()
		t.report, t.err = sqlscript.Verify(ctx, rd)
	}()
	return t
}

func (t *teeVerify) Write(p []byte) (int, error) { return t.pw.Write(p) }

// wait ends the stream (with the dump's error, if any) and returns the
// verifier's verdict.
func (t *teeVerify) wait(dumpErr error) error {
	if dumpErr != nil {
		t.pw.CloseWithError(dumpErr)
	} else {
		t.pw.Close()
	}
	<-t.done
	if dumpErr != nil {
		return nil
	}
	return t.err
}
