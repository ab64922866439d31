package memcap

import (
	"log/slog"
	"math"
	"slices"
	"sort"
	"time"
)

// Summary is what a Guard saw, returned by Stop. Peaks are over samples
// (every Interval, each Sample call, Start and Stop), so a spike shorter
// than the interval can be missed; PeakRSSBytes is the kernel's exact
// high-water mark.
type Summary struct {
	// LimitBytes is the budget in effect.
	LimitBytes int64 `json:"limit_bytes"`
	// PeakHeapBytes is the largest /memory/classes/heap/objects:bytes:
	// live objects plus garbage not yet collected.
	PeakHeapBytes uint64 `json:"peak_heap_bytes"`
	// PeakLiveHeapBytes is the largest /gc/heap/live:bytes: the heap
	// marked live by a collection.
	PeakLiveHeapBytes uint64 `json:"peak_live_heap_bytes"`
	// PeakTotalBytes is the largest /memory/classes/total:bytes minus
	// /memory/classes/heap/released:bytes: what the memory limit counts.
	PeakTotalBytes uint64 `json:"peak_total_bytes"`
	// PeakRSSBytes is VmHWM from /proc/self/status, read at Stop and at
	// each profile: the whole process, including non-Go memory.
	PeakRSSBytes uint64 `json:"peak_rss_bytes"`
	// GCCycles is the number of collections between Start and Stop.
	GCCycles uint64 `json:"gc_cycles"`
	// Samples is the number of samples taken.
	Samples int `json:"samples"`
	// ThrottleEvents counts the times a Batch shrank: one per Batch per
	// tick spent at pressure or critical in which Size was called, even
	// when the size was already at its minimum.
	ThrottleEvents int `json:"throttle_events"`
	// ForcedGCs counts the collections Batch.Size ran at the critical level.
	ForcedGCs int `json:"forced_gcs"`
	// Profiles lists the heap profiles written, in order.
	Profiles []string `json:"heap_profiles"`
	// Batches maps each Batch name to its sizes.
	Batches map[string]BatchStats `json:"batches"`
	// HeapSlopeMiBPerMin is the least-squares slope of the live heap over
	// the run, from at most 512 evenly spaced points.
	HeapSlopeMiBPerMin float64 `json:"heap_slope_mib_per_min"`
	// HeapSlopeR2 is the r² of that fit: near 1 for steady growth.
	HeapSlopeR2 float64 `json:"heap_slope_r2"`
	// SuspectedLeak is set when the slope exceeds 1 MiB/min, r² >= 0.8
	// and the run lasted at least 30 s: steady growth worth a look at the
	// profiles (a run that keeps a report in memory on purpose matches too).
	SuspectedLeak bool `json:"suspected_leak"`
	// DurationSeconds is the time from Start to Stop.
	DurationSeconds float64 `json:"duration_seconds"`
}

// BatchStats are the sizes of the Batches of one name.
type BatchStats struct {
	Initial int `json:"initial"`
	MinUsed int `json:"min_used"`
	MaxUsed int `json:"max_used"`
	Final   int `json:"final"`
}

// MinSlopeSeconds is the shortest run whose heap growth slope LogAttrs
// reports (and, as for SuspectedLeak, the shortest it means something for).
const MinSlopeSeconds = 30

// LogAttrs returns the summary as key/value pairs (slog.Attr values) for
// one log line: log.Info("memory", s.LogAttrs()...).
func (s Summary) LogAttrs() []any {
	attrs := []any{
		slog.Int64("limit_bytes", s.LimitBytes),
		slog.Uint64("peak_heap_bytes", s.PeakHeapBytes),
		slog.Uint64("peak_live_heap_bytes", s.PeakLiveHeapBytes),
		slog.Uint64("peak_total_bytes", s.PeakTotalBytes),
		slog.Uint64("peak_rss_bytes", s.PeakRSSBytes),
		slog.Uint64("gc_cycles", s.GCCycles),
		slog.Int("samples", s.Samples),
		slog.Int("throttle_events", s.ThrottleEvents),
		slog.Int("forced_gcs", s.ForcedGCs),
		slog.Float64("duration_seconds", round3(s.DurationSeconds)),
	}
	if s.DurationSeconds >= MinSlopeSeconds {
		// A slope over a few seconds is mostly the start-up's allocation:
		// a one-second report showed 1952 MiB/min.
		attrs = append(attrs,
			slog.Float64("heap_slope_mib_per_min", round3(s.HeapSlopeMiBPerMin)),
			slog.Float64("heap_slope_r2", round3(s.HeapSlopeR2)),
			slog.Bool("suspected_leak", s.SuspectedLeak))
	}
	if len(s.Profiles) > 0 {
		attrs = append(attrs, slog.Any("heap_profiles", s.Profiles))
	}
	if len(s.Batches) > 0 {
		names := make([]string, 0, len(s.Batches))
		for name := range s.Batches {
			names = append(names, name)
		}
		sort.Strings(names)
		groups := make([]any, 0, len(names))
		for _, name := range names {
			b := s.Batches[name]
			groups = append(groups, slog.Group(name, "initial", b.Initial, "min_used", b.MinUsed, "max_used", b.MaxUsed, "final", b.Final))
		}
		attrs = append(attrs, slog.Group("batches", groups...))
	}
	return attrs
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// buildSummary gathers the Summary for a run of the given length.
func (g *Guard) buildSummary(run time.Duration) Summary {
	g.mu.Lock()
	s := Summary{
		LimitBytes:        g.limit,
		PeakHeapBytes:     g.peakHeap,
		PeakLiveHeapBytes: g.peakLive,
		PeakTotalBytes:    g.peakTotal,
		GCCycles:          sub(g.gcLast, g.gcStart),
		Samples:           g.samples,
	}
	slope, r2 := fitSlope(g.trend.pts)
	points := len(g.trend.pts)
	g.mu.Unlock()

	s.ThrottleEvents = int(g.throttles.Load())
	s.ForcedGCs = int(g.forcedGCs.Load())
	s.HeapSlopeMiBPerMin, s.HeapSlopeR2 = slope, r2
	s.SuspectedLeak = suspectLeak(slope, r2, points, run)
	s.DurationSeconds = run.Seconds()

	g.profMu.Lock()
	s.Profiles = slices.Clone(g.profiles)
	s.PeakRSSBytes = g.peakRSS
	g.profMu.Unlock()
	if s.Profiles == nil {
		s.Profiles = []string{}
	}

	s.Batches = make(map[string]BatchStats)
	g.batchMu.Lock()
	for name, st := range g.batches {
		s.Batches[name] = BatchStats{
			Initial: int(st.initial.Load()),
			MinUsed: int(st.minUsed.Load()),
			MaxUsed: int(st.maxUsed.Load()),
			Final:   int(st.final.Load()),
		}
	}
	g.batchMu.Unlock()
	return s
}
