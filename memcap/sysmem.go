package memcap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultLimit is the budget when neither Options.Limit nor GOMEMLIMIT
// gives one.
const DefaultLimit = 256 << 20

// capPercent is the share of the cgroup limit (or of MemTotal) the budget
// may use: the rest is for non-Go memory (cgo, the kernel's page cache
// charged to the cgroup, the race detector's shadow) and the GC's
// overshoot, since the Go memory limit is soft.
const capPercent = 80

// noLimit is where cgroup v1 values start meaning "unlimited"
// (9223372036854771712 is the usual one).
const noLimit = 1 << 62

// budget is how the limit was chosen, for logging and tests.
type budget struct {
	limit     int64  // the budget in effect
	requested int64  // before the cap
	source    string // "option", "GOMEMLIMIT" or "default"
	cap       int64  // 0 if no system limit was found
	capSource string // the file the cap comes from
}

// resolveBudget picks the budget: o.Limit, else GOMEMLIMIT (unless unset,
// "off" or 0), else DefaultLimit; then caps it at capPercent of the
// smallest of the cgroup limit and MemTotal found under root ("/" in
// production, a fixture folder in tests).
func resolveBudget(limit int64, getenv func(string) string, root string) (budget, error) {
	b := budget{requested: limit, source: "option"}
	if limit == 0 {
		b.requested, b.source = DefaultLimit, "default"
		if v := strings.TrimSpace(getenv("GOMEMLIMIT")); v != "" && v != "off" {
			n, err := ParseSize(v)
			if err != nil {
				return budget{}, fmt.Errorf("GOMEMLIMIT: %w", err)
			}
			if n > 0 {
				b.requested, b.source = n, "GOMEMLIMIT"
			}
		}
	}
	b.limit = b.requested
	if sys, src := systemMemory(root); sys > 0 {
		b.cap, b.capSource = int64(sys/100*capPercent), src
		if b.limit > b.cap {
			b.limit = b.cap
		}
	}
	return b, nil
}

// systemMemory returns the smallest of the process's cgroup memory limit
// and the machine's MemTotal, with the file it came from; 0 if neither is
// known.
func systemMemory(root string) (uint64, string) {
	best, src := uint64(0), ""
	if n, p := cgroupLimit(root); n > 0 {
		best, src = n, p
	}
	if n, err := memTotal(filepath.Join(root, "proc/meminfo")); err == nil && n > 0 && (best == 0 || n < best) {
		best, src = n, "/proc/meminfo MemTotal"
	}
	return best, src
}

// cgroupLimit returns the tightest memory limit among the process's cgroup
// and its ancestors, and the file it was read from (relative to root, so
// it reads as the real path); 0 when there is none ("max", or a v1 value
// meaning unlimited) or no file could be read.
//
// The cgroup comes from proc/self/cgroup: a v1 line naming the memory
// controller ("4:memory:/path") wins, since hybrid systems keep memory in
// v1 and mount v2 elsewhere; else the v2 line ("0::/path"). The limit files
// are sys/fs/cgroup/memory/<path>/memory.limit_in_bytes (v1) and
// sys/fs/cgroup/<path>/memory.max (v2). Inside a container the listed path
// often does not exist in the container's view; the mount's root file is
// always tried as well.
func cgroupLimit(root string) (uint64, string) {
	v1, v2, haveV1, haveV2 := "/", "/", false, false
	if data, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup")); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			id, rest, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			ctrls, p, ok := strings.Cut(rest, ":")
			if !ok {
				continue
			}
			if id == "0" && ctrls == "" {
				v2, haveV2 = p, true
			}
			for _, c := range strings.Split(ctrls, ",") {
				if c == "memory" {
					v1, haveV1 = p, true
				}
			}
		}
	}
	var files []string
	switch {
	case haveV1:
		files = limitFiles("sys/fs/cgroup/memory", v1, "memory.limit_in_bytes")
	case haveV2:
		files = limitFiles("sys/fs/cgroup", v2, "memory.max")
	default:
		files = []string{"sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory/memory.limit_in_bytes"}
	}
	best, src := uint64(0), ""
	for _, f := range files {
		n, err := readCgroupValue(filepath.Join(root, f))
		if err != nil || n == 0 {
			continue
		}
		if best == 0 || n < best {
			best, src = n, "/"+f
		}
	}
	return best, src
}

// limitFiles lists file in the cgroup folder p under mount and in each of
// its ancestors up to the mount's root. A path with ".." (a cgroup outside
// our namespace) is replaced by the root alone.
func limitFiles(mount, p, file string) []string {
	if !strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
		p = "/"
	}
	p = path.Clean(p)
	var files []string
	for {
		files = append(files, path.Join(mount, p, file))
		if p == "/" {
			return files
		}
		p = path.Dir(p)
	}
}

// readCgroupValue reads a memory.max or memory.limit_in_bytes file: a byte
// count, or "max" (returned as 0, as are v1's "unlimited" values).
func readCgroupValue(name string) (uint64, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	s := string(bytes.TrimSpace(data))
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", name, err)
	}
	if n >= noLimit {
		return 0, nil
	}
	return n, nil
}

// errNoField is returned when a /proc file lacks the line asked for.
var errNoField = errors.New("field not found")

// memTotal reads MemTotal from a /proc/meminfo file, in bytes.
func memTotal(name string) (uint64, error) {
	return procKiB(name, "MemTotal:")
}

// peakRSS reads VmHWM (the resident set's high-water mark) from a
// /proc/self/status file, in bytes.
func peakRSS(name string) (uint64, error) {
	return procKiB(name, "VmHWM:")
}

// procKiB finds the line starting with key in a /proc file of "Key: N kB"
// lines and returns N*1024.
func procKiB(name, key string) (uint64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), key)
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, fmt.Errorf("parse %s %s: no value", name, key)
		}
		n, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s %s: %w", name, key, err)
		}
		if len(fields) > 1 && fields[1] != "kB" {
			return 0, fmt.Errorf("parse %s %s: unexpected unit %q", name, key, fields[1])
		}
		return n << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", name, err)
	}
	return 0, fmt.Errorf("read %s %s: %w", name, key, errNoField)
}
