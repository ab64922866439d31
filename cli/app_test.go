package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"lms-backup/dbconn"
	"lms-backup/restore"
)

// TestCutShortWording checks the note that ends the error line of a run cut
// short by a signal or a lost connection: each command says what it left.
func TestCutShortWording(t *testing.T) {
	lost := fmt.Errorf("restore x into y: %w", dbconn.Lost(io.ErrUnexpectedEOF))
	changed := fmt.Errorf("restore x into y: %w", fmt.Errorf("%w (%w: ...)", context.Canceled, restore.ErrTargetChanged))
	tests := []struct {
		name, command string
		err           error
		want, not     string
	}{
		{"dump interrupted", "dump", context.Canceled, "(nothing was written under the final name)", "target"},
		{"dump lost", "dump", lost, "(nothing was written under the final name)", "target"},
		{"restore interrupted", "restore", context.Canceled, "(the target database is as it was)", "final name"},
		{"restore lost", "restore", lost, "(the target database is as it was)", "final name"},
		{"restore in place with force", "restore", changed, "interrupted:", "as it was"},
		{"verify interrupted", "verify", context.Canceled, "interrupted:", "final name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			env := &appEnv{stderr: &stderr, command: tt.command}
			env.reportError(tt.err, exitCode(tt.err, false))
			if got := stderr.String(); !strings.Contains(got, tt.want) || strings.Contains(got, tt.not) {
				t.Errorf("got %q, want %q and not %q", got, tt.want, tt.not)
			}
		})
	}
}

// TestErrorIsOneLine: a name from the database with a newline in it,
// reaching an error message, does not break the one-line error (or forge
// a line of its own).
func TestErrorIsOneLine(t *testing.T) {
	if got := oneLine("dump table x\nCREATE DATABASE y;\r#: boom"); got != `dump table x\x0aCREATE DATABASE y;\x0d#: boom` {
		t.Errorf("oneLine = %q", got)
	}
}
