package tests3

import (
	"strings"
	"testing"
)

// TestMissingBinary: without versitygw the harness fails with the fix,
// it never skips.
func TestMissingBinary(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	t.Setenv("GOPATH", empty)
	t.Setenv("HOME", empty)
	_, err := Start()
	if err == nil || !strings.Contains(err.Error(), "make deps") {
		t.Fatalf("Start without versitygw: %v", err)
	}
}

func TestStartStop(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if b := s.CreateBucket(t); b == "" {
		t.Fatal("no bucket name")
	}
}
