package restore

import (
	"testing"

	"lms-backup/dumpfile"
)

// TestCreateDefaults checks the clauses of the target's CREATE DATABASE:
// options win over the header, and a name from the file cannot leave its
// quotes.
func TestCreateDefaults(t *testing.T) {
	h := &dumpfile.Header{Charset: "latin1", Collation: "latin1_german1_ci"}
	tests := []struct {
		name string
		opts Options
		h    *dumpfile.Header
		want string
	}{
		{"old dump", Options{}, &dumpfile.Header{}, ""},
		{"no header", Options{}, nil, ""},
		{"header", Options{}, h, " CHARACTER SET `latin1` COLLATE `latin1_german1_ci`"},
		{"collation option", Options{Collation: "latin1_danish_ci"}, h, " COLLATE `latin1_danish_ci`"},
		{"charset option", Options{Charset: "utf8mb4"}, h, " CHARACTER SET `utf8mb4`"},
		{"hostile header", Options{}, &dumpfile.Header{Charset: "latin1`; DROP DATABASE x; --"}, " CHARACTER SET `latin1``; DROP DATABASE x; --`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := createDefaults(tt.opts, tt.h); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
