package memcap

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

func TestCgroupLimit(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		want    uint64
		src     string
	}{
		{name: "v2 nested, parent limited", fixture: "cgroup2-nested", want: 1 << 30, src: "/sys/fs/cgroup/system.slice/memory.max"},
		{name: "v2 container root", fixture: "cgroup2-container", want: 512 << 20, src: "/sys/fs/cgroup/memory.max"},
		{name: "v2 max everywhere", fixture: "cgroup2-unlimited", want: 0},
		{name: "v1 memory wins in hybrid", fixture: "cgroup1-hybrid", want: 384 << 20, src: "/sys/fs/cgroup/memory/process_api/b80793a8/memory.limit_in_bytes"},
		{name: "v1 unlimited, combined controllers", fixture: "cgroup1-unlimited", want: 0},
		{name: "no cgroup files", fixture: "meminfo-only", want: 0},
		{name: "malformed value ignored", fixture: "malformed", want: 0},
		{name: "missing root", fixture: "does-not-exist", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, src := cgroupLimit(filepath.Join("testdata", tt.fixture))
			if got != tt.want || (tt.want != 0 && src != tt.src) {
				t.Errorf("cgroupLimit = %d from %q, want %d from %q", got, src, tt.want, tt.src)
			}
		})
	}
}

func TestProcFiles(t *testing.T) {
	tests := []struct {
		name    string
		read    func(string) (uint64, error)
		file    string
		want    uint64
		wantErr bool
	}{
		{name: "MemTotal", read: memTotal, file: "cgroup2-nested/proc/meminfo", want: 16 << 30},
		{name: "VmHWM", read: peakRSS, file: "cgroup2-nested/proc/self/status", want: 50 << 20},
		{name: "MemTotal missing", read: memTotal, file: "malformed/proc/meminfo", wantErr: true},
		{name: "VmHWM not a number", read: peakRSS, file: "malformed/proc/self/status", wantErr: true},
		{name: "no such file", read: peakRSS, file: "meminfo-only/proc/self/status", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.read(filepath.Join("testdata", tt.file))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestResolveBudget(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name      string
		limit     int64
		env       string
		fixture   string
		want      int64
		source    string
		capSource string
		wantErr   error
	}{
		{name: "default", fixture: "cgroup2-nested", want: DefaultLimit, source: "default", capSource: "/sys/fs/cgroup/system.slice/memory.max"},
		{name: "option", limit: 64 << 20, env: "1GiB", fixture: "cgroup2-nested", want: 64 << 20, source: "option"},
		{name: "GOMEMLIMIT", env: "64MiB", fixture: "cgroup2-nested", want: 64 << 20, source: "GOMEMLIMIT"},
		{name: "GOMEMLIMIT off", env: "off", fixture: "cgroup2-nested", want: DefaultLimit, source: "default"},
		{name: "GOMEMLIMIT zero", env: "0", fixture: "cgroup2-nested", want: DefaultLimit, source: "default"},
		{name: "GOMEMLIMIT malformed", env: "64XB", fixture: "cgroup2-nested", wantErr: ErrSize},
		{name: "capped by v2 parent", limit: 2 * gib, fixture: "cgroup2-nested", want: gib / 100 * 80, source: "option", capSource: "/sys/fs/cgroup/system.slice/memory.max"},
		{name: "capped by v1", env: "1GiB", fixture: "cgroup1-hybrid", want: (384 << 20) / 100 * 80, source: "GOMEMLIMIT", capSource: "/sys/fs/cgroup/memory/process_api/b80793a8/memory.limit_in_bytes"},
		{name: "capped by MemTotal", limit: 4 * gib, fixture: "cgroup2-unlimited", want: 2 * gib / 100 * 80, source: "option", capSource: "/proc/meminfo MemTotal"},
		{name: "MemTotal below cgroup", limit: 8 * gib, fixture: "meminfo-only", want: 2 * gib / 100 * 80, source: "option", capSource: "/proc/meminfo MemTotal"},
		{name: "nothing known: no cap", limit: 8 * gib, fixture: "does-not-exist", want: 8 * gib, source: "option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "GOMEMLIMIT" {
					return tt.env
				}
				return ""
			}
			b, err := resolveBudget(tt.limit, getenv, filepath.Join("testdata", tt.fixture))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.limit != tt.want || b.source != tt.source {
				t.Errorf("budget %d from %s, want %d from %s", b.limit, b.source, tt.want, tt.source)
			}
			if tt.capSource != "" && b.capSource != tt.capSource {
				t.Errorf("cap from %q, want %q", b.capSource, tt.capSource)
			}
		})
	}
}

func TestCapIsLogged(t *testing.T) {
	tests := []struct {
		name   string
		limit  int64
		logged bool
	}{
		{name: "above the cap", limit: 2 << 30, logged: true},
		{name: "below the cap", limit: 64 << 20, logged: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			g, err := newGuard(Options{Limit: tt.limit, Log: log}, func(string) string { return "" }, filepath.Join("testdata", "cgroup2-nested"))
			if err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if got := strings.Contains(out, "memory budget capped"); got != tt.logged {
				t.Errorf("cap logged = %v, want %v; log:\n%s", got, tt.logged, out)
			}
			if tt.logged && (!strings.Contains(out, "/sys/fs/cgroup/system.slice/memory.max") || !strings.Contains(out, "component=memcap") || g.Limit() >= tt.limit) {
				t.Errorf("cap log %q, limit %d", out, g.Limit())
			}
		})
	}
}
