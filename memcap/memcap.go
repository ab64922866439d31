// Package memcap keeps a batch process's Go memory inside a budget by
// slowing producers down instead of letting the process be killed.
//
// Start sets the runtime's soft memory limit to the budget and starts one
// sampler goroutine that reads runtime/metrics every Interval (never
// runtime.ReadMemStats) and classifies usage into four levels. Producers
// ask a Batch for their next batch size (rows per page, cells per chunk);
// the size shrinks multiplicatively under pressure and grows back
// additively (AIMD). At the critical level memcap also collects garbage on
// the producer's goroutine and writes one heap profile per cooldown. A
// SIGUSR2 writes a heap profile on demand. Stop restores the previous
// limit and returns a Summary of peaks, throttling and a leak hint.
//
// # What is measured
//
// Levels compare "Go memory in use" with the budget: the runtime's
// /memory/classes/total:bytes minus heap/released and heap/free, that is
// heap objects (live and not yet collected garbage), fragmentation in
// in-use spans, goroutine stacks and runtime metadata. This is what the
// memory limit counts, minus the free pages the runtime can return at
// once: unlike total minus released it drops as soon as a collection has
// swept, so a collection visibly relieves pressure. It follows the GC's
// saw-tooth; the hysteresis of the levels absorbs that.
//
//	level     enter at  leave below  effect on Batch.Size (once per tick)
//	normal    -         -            grow by max(1, initial/8), up to initial
//	hold      50%       45%          keep the size
//	pressure  70%       60%          halve, not below min; a throttle event
//	critical  90%       80%          return min; one runtime.GC per tick;
//	                                 one automatic heap profile per Cooldown
//
// The Go memory limit is soft (the GC caps itself near half the CPU), so
// the heap can overshoot it: it is the producers slowing down that keeps
// memory bounded. memcap cannot see memory outside the Go runtime (cgo,
// the race detector, the kernel's page cache); the budget is capped at
// 80% of the cgroup or machine memory to leave room for it.
package memcap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors.
var (
	// ErrOptions marks invalid Options.
	ErrOptions = errors.New("memcap: invalid options")
	// ErrRunning is returned by Start while another Guard is running: the
	// memory limit and the signal handler are process-wide.
	ErrRunning = errors.New("memcap: a guard is already running")
)

// Defaults for zero Options fields.
const (
	DefaultInterval = 25 * time.Millisecond
	DefaultCooldown = 30 * time.Second
	DefaultPrefix   = "memcap"

	// minLimit is the smallest budget Validate accepts: the runtime's
	// minimum heap goal is 4 MiB anyway.
	minLimit = 4 << 20
)

// Options configures Start. Zero values mean defaults.
type Options struct {
	// Limit is the budget in bytes. 0 means GOMEMLIMIT if set (read with
	// ParseSize, a superset of the runtime's syntax; "off" counts as unset),
	// else DefaultLimit (256 MiB). The budget is always capped at 80% of
	// the smallest of the cgroup memory limit (v2 memory.max, v1
	// memory.limit_in_bytes, of the process's cgroup and its ancestors;
	// "max" = none) and MemTotal from /proc/meminfo; the cap is logged
	// when it applies.
	Limit int64
	// ProfileDir is where heap profiles are written, created (0700) if
	// missing. "" means os.TempDir().
	ProfileDir string
	// ProfilePrefix starts every profile's file name, e.g.
	// "lms-backup-dump". "" means DefaultPrefix.
	ProfilePrefix string
	// Interval is the sampling period. 0 means DefaultInterval.
	Interval time.Duration
	// Cooldown is the least time between two automatic profiles. 0 means
	// DefaultCooldown. Profiles on SIGUSR2 or WriteProfile ignore it.
	Cooldown time.Duration
	// Log receives memcap's messages, with component=memcap added. nil
	// discards them.
	Log *slog.Logger
}

// Validate reports options Start would reject, without touching the
// system.
func (o Options) Validate() error {
	switch {
	case o.Limit < 0:
		return fmt.Errorf("%w: negative memory budget %d (use 0 for the default)", ErrOptions, o.Limit)
	case o.Limit > 0 && o.Limit < minLimit:
		return fmt.Errorf("%w: memory budget of %d bytes is below 4MiB (raise it, or use 0 for the default)", ErrOptions, o.Limit)
	case o.Interval < 0:
		return fmt.Errorf("%w: negative sampling interval %v", ErrOptions, o.Interval)
	case o.Cooldown < 0:
		return fmt.Errorf("%w: negative profile cooldown %v", ErrOptions, o.Cooldown)
	case strings.ContainsAny(o.ProfilePrefix, `/\`) || strings.HasPrefix(o.ProfilePrefix, "."):
		return fmt.Errorf("%w: profile prefix %q must be a plain file name part (no slashes, no leading dot)", ErrOptions, o.ProfilePrefix)
	}
	return nil
}

// Indexes of the sampler's metrics.
const (
	mHeapObjects = iota
	mHeapLive
	mTotal
	mReleased
	mFree
	mGCCycles
	nMetrics
)

var metricNames = [nMetrics]string{
	mHeapObjects: "/memory/classes/heap/objects:bytes",
	mHeapLive:    "/gc/heap/live:bytes",
	mTotal:       "/memory/classes/total:bytes",
	mReleased:    "/memory/classes/heap/released:bytes",
	mFree:        "/memory/classes/heap/free:bytes",
	mGCCycles:    "/gc/cycles/total:gc-cycles",
}

// active is set while a started Guard has not been stopped.
var active atomic.Bool

// A Guard watches the process's Go memory against a budget. Its methods
// are safe for concurrent use. Call Stop when done (defer it right after
// Start): only Stop restores the memory limit and the SIGUSR2 default.
type Guard struct {
	limit    int64
	interval time.Duration
	cooldown time.Duration
	dir      string
	prefix   string
	log      *slog.Logger
	root     string // where proc/ and sys/ are read: "/", or a fixture in tests
	start    time.Time

	// Read by Batch.Size without locks.
	state     atomic.Uint64 // packState(tick, level)
	throttles atomic.Int64
	forcedGCs atomic.Int64
	gcTick    atomic.Uint64    // the last tick a Batch forced a GC in
	inGC      atomic.Bool      // a Batch is forcing a GC; it owns gcBuf
	gcBuf     []metrics.Sample // total, released, free
	usageNow  func() uint64    // current usage; reads gcBuf (tests replace it)
	collect   func()           // runtime.GC (tests replace it)

	mu        sync.Mutex // guards the sampler state below
	buf       []metrics.Sample
	tick      uint64
	lvl       level
	frozen    bool // after Stop or ctx done: publish levelHold only
	samples   int
	peakHeap  uint64
	peakLive  uint64
	peakTotal uint64
	gcStart   uint64
	gcLast    uint64
	trend     trend

	lastAuto time.Time // owned by the sampler goroutine

	profMu   sync.Mutex // serialises profile files; guards the fields below
	profiles []string
	peakRSS  uint64

	batchMu sync.Mutex
	batches map[string]*batchStats

	started  bool // Start set the limit and the signal handler
	oldLimit int64
	sig      chan os.Signal
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	summary  Summary
}

// Start applies the budget with debug.SetMemoryLimit (Stop restores the
// previous limit), starts one sampler goroutine, which ends when ctx is
// done or on Stop, and installs a SIGUSR2 handler (signal.Notify) that
// writes a heap profile whenever the signal arrives, until Stop removes
// it. Only one Guard runs at a time; a second Start returns ErrRunning.
//
// When ctx is done the sampler ends and Batches stop adapting (they keep
// their size), but the limit and the signal handler stay until Stop; a
// SIGUSR2 in between is swallowed.
//
// signal.Notify adds a receiver and replaces nothing: another package's
// Notify for SIGUSR2 keeps working and also gets the signal. While any
// receiver is registered the signal no longer kills the process; after
// Stop, if no other receiver is left, SIGUSR2 terminates the process again
// (its default action).
func Start(ctx context.Context, o Options) (*Guard, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if !active.CompareAndSwap(false, true) {
		return nil, ErrRunning
	}
	g, err := newGuard(o, os.Getenv, "/")
	if err != nil {
		active.Store(false)
		return nil, err
	}
	g.started = true
	g.oldLimit = debug.SetMemoryLimit(g.limit)
	g.sample()
	g.mu.Lock()
	g.gcStart = g.gcLast
	g.mu.Unlock()
	if len(profileSignals) > 0 {
		signal.Notify(g.sig, profileSignals...)
	}
	go g.run(ctx)
	return g, nil
}

// newGuard resolves o into a Guard without touching the runtime, signals
// or goroutines. getenv and root are injectable for tests.
func newGuard(o Options, getenv func(string) string, root string) (*Guard, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "memcap")
	b, err := resolveBudget(o.Limit, getenv, root)
	if err != nil {
		return nil, err
	}
	g := &Guard{
		limit:    b.limit,
		interval: o.Interval,
		cooldown: o.Cooldown,
		dir:      o.ProfileDir,
		prefix:   o.ProfilePrefix,
		log:      log,
		root:     root,
		start:    time.Now(),
		collect:  runtime.GC,
		batches:  make(map[string]*batchStats),
		sig:      make(chan os.Signal, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if g.interval == 0 {
		g.interval = DefaultInterval
	}
	if g.cooldown == 0 {
		g.cooldown = DefaultCooldown
	}
	if g.dir == "" {
		g.dir = os.TempDir()
	}
	if g.prefix == "" {
		g.prefix = DefaultPrefix
	}
	g.buf = make([]metrics.Sample, nMetrics)
	for i, name := range metricNames {
		g.buf[i].Name = name
	}
	g.gcBuf = []metrics.Sample{{Name: metricNames[mTotal]}, {Name: metricNames[mReleased]}, {Name: metricNames[mFree]}}
	g.usageNow = g.readUsage
	g.trend = newTrend(max(g.interval, 100*time.Millisecond))
	if b.cap > 0 && b.requested > b.cap {
		log.Info("memory budget capped", "requested", b.requested, "requested_from", b.source,
			"limit", b.limit, "cap_percent", capPercent, "of", b.capSource)
	}
	log.Debug("memory budget", "limit", b.limit, "from", b.source, "cap", b.cap, "cap_from", b.capSource)
	return g, nil
}

// Limit returns the budget in bytes, after defaults and the cap.
func (g *Guard) Limit() int64 { return g.limit }

// Sample takes a sample now: it updates the peaks and the level. The
// sampler already does this every Interval; call it at the end of a phase
// (after a table, before writing a report) so a short spike between two
// ticks still counts in the Summary.
func (g *Guard) Sample() { g.sample() }

// run is the sampler goroutine.
func (g *Guard) run(ctx context.Context) {
	defer close(g.done)
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			g.freeze()
			return
		case <-g.stop:
			return
		case <-g.sig:
			g.signalProfile()
		case <-t.C:
			if lvl, used := g.sample(); lvl == levelCritical {
				g.autoProfile(used)
			}
		}
	}
}

// sample reads the metrics, updates peaks, trend and level, and publishes
// a new tick. It returns the level and the usage it saw.
func (g *Guard) sample() (level, uint64) {
	now := time.Now()
	g.mu.Lock()
	metrics.Read(g.buf)
	heap := u64(g.buf[mHeapObjects])
	live := u64(g.buf[mHeapLive])
	goMem := sub(u64(g.buf[mTotal]), u64(g.buf[mReleased]))
	used := sub(goMem, u64(g.buf[mFree]))
	g.peakHeap = max(g.peakHeap, heap)
	g.peakLive = max(g.peakLive, live)
	g.peakTotal = max(g.peakTotal, goMem)
	g.gcLast = u64(g.buf[mGCCycles])
	g.samples++
	g.trend.add(now.Sub(g.start), live)
	prev := g.lvl
	g.lvl = nextLevel(prev, used, g.limit)
	lvl := g.lvl
	g.tick++
	if g.frozen {
		g.state.Store(packState(g.tick, levelHold))
	} else {
		g.state.Store(packState(g.tick, lvl))
	}
	g.mu.Unlock()
	if lvl != prev && g.log.Enabled(context.Background(), slog.LevelDebug) {
		g.log.Debug("memory level changed", "level", lvl.String(), "from", prev.String(), "used", used, "limit", g.limit)
	}
	return lvl, used
}

// freeze stops Batches from adapting: from now on they see levelHold.
func (g *Guard) freeze() {
	g.mu.Lock()
	g.frozen = true
	g.tick++
	g.state.Store(packState(g.tick, levelHold))
	g.mu.Unlock()
}

// readUsage reads the current usage into gcBuf. Only the holder of inGC
// calls it.
func (g *Guard) readUsage() uint64 {
	metrics.Read(g.gcBuf)
	return sub(sub(u64(g.gcBuf[0]), u64(g.gcBuf[1])), u64(g.gcBuf[2]))
}

// autoProfile writes the automatic profile at the critical level, at most
// once per cooldown. Only the sampler goroutine calls it.
func (g *Guard) autoProfile(used uint64) {
	now := time.Now()
	if !g.lastAuto.IsZero() && now.Sub(g.lastAuto) < g.cooldown {
		return
	}
	g.lastAuto = now // also after a failure: do not retry every tick
	path, err := g.WriteProfile("critical")
	if err != nil {
		g.log.Warn("memory critical; heap profile not written", "used", used, "limit", g.limit, "err", err)
		return
	}
	g.log.Warn("memory critical: wrote heap profile", "path", path, "used", used, "limit", g.limit,
		"hint", "inspect it with go tool pprof -sample_index=inuse_space")
}

// signalProfile answers SIGUSR2.
func (g *Guard) signalProfile() {
	path, err := g.WriteProfile("signal")
	if err != nil {
		g.log.Warn("heap profile on signal not written", "err", err)
		return
	}
	g.log.Info("wrote heap profile on signal", "path", path)
}

// Stop ends the sampler, removes the SIGUSR2 handler, takes a final sample,
// restores the memory limit Start replaced and returns the Summary. It is
// idempotent: later calls return the same Summary. Batches keep working
// after Stop but no longer adapt; WriteProfile still works, but profiles
// written after Stop are not in the Summary.
func (g *Guard) Stop() Summary {
	g.stopOnce.Do(func() {
		if g.started {
			close(g.stop)
			<-g.done
			signal.Stop(g.sig)
		}
		g.freeze()
		g.sample()
		if g.started {
			debug.SetMemoryLimit(g.oldLimit)
			active.Store(false)
		}
		g.profMu.Lock()
		g.noteRSSLocked()
		g.profMu.Unlock()
		g.summary = g.buildSummary(time.Since(g.start))
	})
	return g.summary
}

func u64(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0 // metric unknown to this runtime
	}
	return s.Value.Uint64()
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}

// Status returns the summary of the run so far without stopping the guard
// and without taking a sample of its own (which would count as a tick and
// step every Batch); it only folds the current heap into the peaks. It is
// safe to call from any goroutine, e.g. a debug HTTP handler.
func (g *Guard) Status() Summary {
	g.mu.Lock()
	metrics.Read(g.buf)
	g.peakHeap = max(g.peakHeap, u64(g.buf[mHeapObjects]))
	g.peakLive = max(g.peakLive, u64(g.buf[mHeapLive]))
	g.peakTotal = max(g.peakTotal, sub(u64(g.buf[mTotal]), u64(g.buf[mReleased])))
	g.mu.Unlock()
	g.profMu.Lock()
	g.noteRSSLocked()
	g.profMu.Unlock()
	return g.buildSummary(time.Since(g.start))
}
