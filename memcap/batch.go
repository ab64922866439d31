package memcap

import (
	"math"
	"sync/atomic"
)

// A Batch is one producer's adaptive batch size: rows per page, rows per
// INSERT, cells per flush. The producer calls Size before each batch and
// uses the result as its upper bound. A Batch is safe for concurrent use;
// a Guard can have any number of them.
type Batch struct {
	g                  *Guard
	stats              *batchStats
	initial, min, step int64
	size               atomic.Int64
	tick               atomic.Uint64 // the last tick this Batch adapted in
}

// batchStats is shared by every Batch created with the same name.
type batchStats struct {
	initial, minUsed, maxUsed, final atomic.Int64
}

// Batch returns a new adaptive size for the producer called name, starting
// at initial and never below min (min < 1 counts as 1; initial < min counts
// as min). It grows back by max(1, initial/8) per tick, never above
// initial. Batches created with the same name share one entry in the
// Summary: initial and final of the latest change, the smallest and
// largest sizes any of them returned.
func (g *Guard) Batch(name string, initial, min int) *Batch {
	lo := max(int64(min), 1)
	hi := max(int64(initial), lo)
	g.batchMu.Lock()
	st := g.batches[name]
	if st == nil {
		st = new(batchStats)
		st.minUsed.Store(math.MaxInt64)
		g.batches[name] = st
	}
	g.batchMu.Unlock()
	st.initial.Store(hi)
	st.note(hi)
	b := &Batch{g: g, stats: st, initial: hi, min: lo, step: max(hi/8, 1)}
	b.size.Store(hi)
	tick, _ := unpackState(g.state.Load())
	b.tick.Store(tick)
	return b
}

// Size returns the batch size to use now. It costs a few atomic operations
// and does not allocate; the size adapts at most once per sampler tick, and
// only when Size is called (a tick without a call changes nothing):
//
//   - normal: grow by max(1, initial/8), up to initial;
//   - hold: keep the size;
//   - pressure: halve, not below min, and count a throttle event;
//   - critical: return min (and count a throttle event). Once per tick,
//     across all Batches of the Guard, the caller that sees critical first
//     reads the current usage (one runtime/metrics read) and, if it is
//     still at least 80% of the budget, runs runtime.GC before returning.
//     That call blocks the producer for a whole collection: this is
//     deliberate, the producer slows down instead of piling on. Other
//     callers in the meantime return min at once.
//
// After Stop, or once the Guard's context is done, Size keeps returning
// the last size.
func (b *Batch) Size() int {
	tick, lvl := unpackState(b.g.state.Load())
	// Ticks only grow: never move b.tick backwards on a stale state.
	if last := b.tick.Load(); tick > last && b.tick.CompareAndSwap(last, tick) {
		b.adapt(lvl)
	}
	if lvl == levelCritical {
		b.g.relieve(tick)
		return int(b.min)
	}
	return int(b.size.Load())
}

// adapt applies one AIMD step for lvl.
func (b *Batch) adapt(lvl level) {
	if lvl == levelHold {
		return
	}
	var n int64
	for {
		cur := b.size.Load()
		switch lvl {
		case levelNormal:
			n = min(cur+b.step, b.initial)
		case levelPressure:
			n = max(cur/2, b.min)
		default: // levelCritical
			n = b.min
		}
		if n == cur || b.size.CompareAndSwap(cur, n) {
			break
		}
	}
	if lvl >= levelPressure {
		b.g.throttles.Add(1)
	}
	b.stats.note(n)
}

// note records that size n is now in use.
func (s *batchStats) note(n int64) {
	s.final.Store(n)
	for {
		cur := s.minUsed.Load()
		if n >= cur || s.minUsed.CompareAndSwap(cur, n) {
			break
		}
	}
	for {
		cur := s.maxUsed.Load()
		if n <= cur || s.maxUsed.CompareAndSwap(cur, n) {
			break
		}
	}
}

// relieve forces at most one collection per tick at the critical level,
// on the calling producer's goroutine. No lock is held across the
// collection: inGC only makes concurrent callers skip.
func (g *Guard) relieve(tick uint64) {
	if g.gcTick.Load() >= tick || !g.inGC.CompareAndSwap(false, true) {
		return
	}
	defer g.inGC.Store(false)
	if g.gcTick.Load() >= tick {
		return
	}
	g.gcTick.Store(tick)
	// A collection (another producer's, the runtime's, a profile's) may
	// have relieved the pressure since the sampler looked.
	if float64(g.usageNow())*100 < criticalLeave*float64(g.limit) {
		return
	}
	g.collect()
	g.forcedGCs.Add(1)
}
