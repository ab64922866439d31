//go:build unix

package memcap

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestSIGUSR2WritesProfile(t *testing.T) {
	keepLimit(t)
	dir := t.TempDir()
	g, err := Start(context.Background(), Options{Limit: 64 << 20, ProfileDir: dir, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var profiles []string
	for len(profiles) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no profile 10s after SIGUSR2")
		}
		time.Sleep(10 * time.Millisecond) // polling for the file, not ordering
		profiles = listProfiles(t, dir)
	}
	if !strings.HasSuffix(profiles[0], "-signal.pprof") {
		t.Errorf("profile %s, want a -signal.pprof name", profiles[0])
	}
	checkProfile(t, profiles[0])
	if s := g.Stop(); len(s.Profiles) != 1 {
		t.Errorf("summary profiles %v, want one", s.Profiles)
	}
}
