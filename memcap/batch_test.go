package memcap

import (
	"sync"
	"sync/atomic"
	"testing"
)

// setLevelForTest publishes level l as a new tick, as the sampler would.
// Tests that use it must not run the sampler.
func (g *Guard) setLevelForTest(l level) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lvl = l
	g.tick++
	g.state.Store(packState(g.tick, l))
}

// newTestGuard returns a Guard with no sampler, no signal handler and the
// process's memory limit untouched, whose forced GCs are counted instead
// of run and whose usage reads as used.
func newTestGuard(t *testing.T, used *atomic.Uint64) (*Guard, *atomic.Int64) {
	t.Helper()
	g, err := newGuard(Options{Limit: 100 << 20, ProfileDir: t.TempDir()}, func(string) string { return "" }, "/")
	if err != nil {
		t.Fatal(err)
	}
	gcs := new(atomic.Int64)
	g.collect = func() { gcs.Add(1) }
	g.usageNow = used.Load
	return g, gcs
}

func TestNextLevel(t *testing.T) {
	const limit = 1000
	tests := []struct {
		name string
		cur  level
		used uint64
		want level
	}{
		{name: "low stays normal", cur: levelNormal, used: 300, want: levelNormal},
		{name: "enter hold at 50%", cur: levelNormal, used: 500, want: levelHold},
		{name: "hold until below 45%", cur: levelHold, used: 460, want: levelHold},
		{name: "leave hold below 45%", cur: levelHold, used: 440, want: levelNormal},
		{name: "enter pressure at 70%", cur: levelNormal, used: 700, want: levelPressure},
		{name: "pressure kept at 65%", cur: levelPressure, used: 650, want: levelPressure},
		{name: "pressure left below 60%", cur: levelPressure, used: 590, want: levelHold},
		{name: "pressure straight to normal", cur: levelPressure, used: 100, want: levelNormal},
		{name: "enter critical at 90%", cur: levelNormal, used: 900, want: levelCritical},
		{name: "critical kept at 85%", cur: levelCritical, used: 850, want: levelCritical},
		{name: "critical left below 80% to pressure", cur: levelCritical, used: 790, want: levelPressure},
		{name: "critical left to pressure at 62%", cur: levelCritical, used: 620, want: levelPressure},
		{name: "85% from pressure is pressure", cur: levelPressure, used: 850, want: levelPressure},
		{name: "over the budget", cur: levelNormal, used: 5000, want: levelCritical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextLevel(tt.cur, tt.used, limit); got != tt.want {
				t.Errorf("nextLevel(%v, %d%%) = %v, want %v", tt.cur, tt.used/10, got, tt.want)
			}
		})
	}
}

func TestBatchAIMD(t *testing.T) {
	type step struct {
		lvl   level // published before the calls
		calls int   // Size calls in this tick
		want  int
	}
	tests := []struct {
		name      string
		initial   int
		min       int
		steps     []step
		throttles int
	}{
		{
			name: "halves once per tick, not per call", initial: 1000, min: 10,
			steps:     []step{{levelPressure, 5, 500}, {levelPressure, 1, 250}, {levelPressure, 3, 125}},
			throttles: 3,
		},
		{
			name: "min floor", initial: 100, min: 30,
			steps:     []step{{levelPressure, 1, 50}, {levelPressure, 1, 30}, {levelPressure, 1, 30}},
			throttles: 3,
		},
		{
			name: "grows back by initial/8 up to initial", initial: 800, min: 1,
			steps: []step{
				{levelPressure, 1, 400}, {levelPressure, 1, 200},
				{levelNormal, 2, 300}, {levelNormal, 1, 400}, {levelNormal, 1, 500},
				{levelNormal, 1, 600}, {levelNormal, 1, 700}, {levelNormal, 1, 800}, {levelNormal, 1, 800},
			},
			throttles: 2,
		},
		{
			name: "hold keeps the size", initial: 800, min: 1,
			steps:     []step{{levelPressure, 1, 400}, {levelHold, 1, 400}, {levelHold, 1, 400}, {levelNormal, 1, 500}},
			throttles: 1,
		},
		{
			name: "small initial grows by one", initial: 5, min: 1,
			steps:     []step{{levelPressure, 1, 2}, {levelNormal, 1, 3}, {levelNormal, 1, 4}, {levelNormal, 1, 5}, {levelNormal, 1, 5}},
			throttles: 1,
		},
		{
			name: "critical returns min, then grows from min", initial: 800, min: 8,
			steps:     []step{{levelCritical, 3, 8}, {levelCritical, 1, 8}, {levelPressure, 1, 8}, {levelNormal, 1, 108}},
			throttles: 3,
		},
		{
			name: "tick without a call changes nothing", initial: 800, min: 8,
			steps:     []step{{levelPressure, 1, 400}, {levelPressure, 0, 0}, {levelPressure, 0, 0}, {levelPressure, 1, 200}},
			throttles: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := newTestGuard(t, new(atomic.Uint64))
			b := g.Batch("rows", tt.initial, tt.min)
			if got := b.Size(); got != tt.initial {
				t.Fatalf("first Size = %d, want initial %d", got, tt.initial)
			}
			for i, s := range tt.steps {
				g.setLevelForTest(s.lvl)
				for c := 0; c < s.calls; c++ {
					if got := b.Size(); got != s.want {
						t.Fatalf("step %d (%v) call %d: Size = %d, want %d", i, s.lvl, c, got, s.want)
					}
				}
			}
			if got := int(g.throttles.Load()); got != tt.throttles {
				t.Errorf("throttle events = %d, want %d", got, tt.throttles)
			}
		})
	}
}

func TestBatchArguments(t *testing.T) {
	tests := []struct {
		name             string
		initial, min     int
		wantSize, wantLo int
	}{
		{name: "min below one", initial: 10, min: 0, wantSize: 10, wantLo: 1},
		{name: "initial below min", initial: 2, min: 5, wantSize: 5, wantLo: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := newTestGuard(t, new(atomic.Uint64))
			b := g.Batch("x", tt.initial, tt.min)
			if got := b.Size(); got != tt.wantSize {
				t.Errorf("Size = %d, want %d", got, tt.wantSize)
			}
			g.setLevelForTest(levelCritical)
			if got := b.Size(); got != tt.wantLo {
				t.Errorf("Size at critical = %d, want %d", got, tt.wantLo)
			}
		})
	}
}

func TestCriticalForcesOneGCPerTick(t *testing.T) {
	tests := []struct {
		name    string
		usedPct uint64 // usage Size re-reads before collecting
		ticks   int
		wantGCs int64
	}{
		{name: "still critical: one GC per tick", usedPct: 95, ticks: 3, wantGCs: 3},
		{name: "relieved since the sample: no GC", usedPct: 50, ticks: 3, wantGCs: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			used := new(atomic.Uint64)
			g, gcs := newTestGuard(t, used)
			used.Store(uint64(g.Limit()) / 100 * tt.usedPct)
			batches := []*Batch{g.Batch("a", 100, 1), g.Batch("b", 100, 1), g.Batch("c", 100, 1)}
			for range tt.ticks {
				g.setLevelForTest(levelCritical)
				for range 4 {
					for _, b := range batches {
						b.Size()
					}
				}
			}
			if got := gcs.Load(); got != tt.wantGCs {
				t.Errorf("forced GCs = %d, want %d", got, tt.wantGCs)
			}
			if got := int64(g.Stop().ForcedGCs); got != tt.wantGCs {
				t.Errorf("Summary.ForcedGCs = %d, want %d", got, tt.wantGCs)
			}
		})
	}
}

// TestBatchConcurrent drives many Batches from many goroutines while the
// level changes; run with -race. Each Batch must adapt at most once per
// tick however many goroutines call it.
func TestBatchConcurrent(t *testing.T) {
	g, _ := newTestGuard(t, new(atomic.Uint64))
	shared := g.Batch("shared", 1024, 1)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := g.Batch("own", 64+w, 4)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if n := shared.Size(); n < 1 || n > 1024 {
					t.Errorf("shared Size = %d, out of [1, 1024]", n)
					return
				}
				if n := own.Size(); n < 4 || n > 64+w {
					t.Errorf("own Size = %d, out of [4, %d]", n, 64+w)
					return
				}
			}
		}()
	}
	const ticks = 200
	for i := range ticks {
		g.setLevelForTest([]level{levelPressure, levelNormal, levelHold, levelCritical}[i%4])
	}
	close(stop)
	wg.Wait()
	s := g.Stop()
	// At most 2 throttling ticks in 4, for 9 Batches.
	if max := ticks / 2 * 9; s.ThrottleEvents > max {
		t.Errorf("throttle events = %d, more than one per Batch per tick (%d)", s.ThrottleEvents, max)
	}
	if st := s.Batches["own"]; st.MinUsed < 4 || st.MaxUsed > 71 {
		t.Errorf("own stats %+v out of range", st)
	}
}

func BenchmarkBatchSize(b *testing.B) {
	tests := []struct {
		name string
		lvl  level
	}{
		{name: "normal", lvl: levelNormal},
		{name: "pressure", lvl: levelPressure},
		{name: "critical", lvl: levelCritical},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			g, err := newGuard(Options{Limit: 1 << 30}, func(string) string { return "" }, "/")
			if err != nil {
				b.Fatal(err)
			}
			g.collect = func() {}
			batch := g.Batch("rows", 1000, 10)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%64 == 0 { // a new tick every 64 calls
					g.setLevelForTest(tt.lvl)
				}
				batch.Size()
			}
		})
	}
}

func TestBatchSizeDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("measures allocations")
	}
	g, _ := newTestGuard(t, new(atomic.Uint64))
	g.usageNow = g.readUsage // the real metrics read
	b := g.Batch("rows", 1000, 10)
	for _, lvl := range []level{levelNormal, levelPressure, levelCritical} {
		allocs := testing.AllocsPerRun(1000, func() {
			g.setLevelForTest(lvl)
			b.Size()
			b.Size()
		})
		if allocs != 0 {
			t.Errorf("Size at %v: %.1f allocations per call, want 0", lvl, allocs)
		}
	}
}

func TestSampleDoesNotAllocate(t *testing.T) {
	g, _ := newTestGuard(t, new(atomic.Uint64))
	g.sample() // the first point of the trend may be appended
	if allocs := testing.AllocsPerRun(1000, func() { g.sample() }); allocs != 0 {
		t.Errorf("sample: %.1f allocations, want 0", allocs)
	}
}
