package memcap

import (
	"math"
	"testing"
	"time"
)

func TestFitSlope(t *testing.T) {
	line := func(n int, slopePerSec, noise float64) []point {
		pts := make([]point, n)
		for i := range pts {
			x := float64(i)
			// Deterministic "noise": alternating signs.
			e := noise
			if i%2 == 1 {
				e = -noise
			}
			pts[i] = point{t: x, y: 100 + slopePerSec*x + e}
		}
		return pts
	}
	tests := []struct {
		name      string
		pts       []point
		wantSlope float64 // MiB/min
		minR2     float64
		maxR2     float64
	}{
		{name: "perfect growth", pts: line(100, 0.5, 0), wantSlope: 30, minR2: 0.999, maxR2: 1},
		{name: "flat", pts: line(100, 0, 0), wantSlope: 0, minR2: 0, maxR2: 0},
		{name: "shrinking", pts: line(100, -0.1, 0), wantSlope: -6, minR2: 0.999, maxR2: 1},
		{name: "noise around a flat line", pts: line(100, 0, 5), wantSlope: 0, minR2: 0, maxR2: 0.01},
		{name: "one point", pts: line(1, 1, 0), wantSlope: 0, minR2: 0, maxR2: 0},
		{name: "none", pts: nil, wantSlope: 0, minR2: 0, maxR2: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slope, r2 := fitSlope(tt.pts)
			if math.Abs(slope-tt.wantSlope) > 0.2 {
				t.Errorf("slope = %.3f MiB/min, want %.3f", slope, tt.wantSlope)
			}
			if r2 < tt.minR2 || r2 > tt.maxR2 {
				t.Errorf("r² = %.4f, want in [%.3f, %.3f]", r2, tt.minR2, tt.maxR2)
			}
		})
	}
}

func TestTrendStaysBoundedAndCoversTheRun(t *testing.T) {
	tr := newTrend(10 * time.Millisecond)
	const run = 10 * time.Minute
	for e := time.Duration(0); e <= run; e += time.Millisecond {
		tr.add(e, uint64(e/time.Second)<<20) // +1 MiB per second
	}
	if len(tr.pts) > trendPoints || cap(tr.pts) != trendPoints {
		t.Fatalf("%d points (cap %d), want at most %d", len(tr.pts), cap(tr.pts), trendPoints)
	}
	if first, last := tr.pts[0].t, tr.pts[len(tr.pts)-1].t; first != 0 || last < run.Seconds()*0.9 {
		t.Errorf("points span %.0fs..%.0fs, want the whole %v run", first, last, run)
	}
	slope, r2 := fitSlope(tr.pts)
	if math.Abs(slope-60) > 1 || r2 < 0.99 {
		t.Errorf("slope %.2f MiB/min r² %.3f, want 60 and ~1", slope, r2)
	}
}

func TestSuspectLeak(t *testing.T) {
	tests := []struct {
		name   string
		slope  float64
		r2     float64
		points int
		run    time.Duration
		want   bool
	}{
		{name: "steady growth", slope: 5, r2: 0.95, points: 100, run: time.Minute, want: true},
		{name: "slow growth", slope: 0.5, r2: 0.95, points: 100, run: time.Minute},
		{name: "noisy", slope: 5, r2: 0.5, points: 100, run: time.Minute},
		{name: "short run", slope: 5, r2: 0.95, points: 100, run: 20 * time.Second},
		{name: "too few points", slope: 5, r2: 0.95, points: 3, run: time.Minute},
		{name: "shrinking", slope: -5, r2: 0.95, points: 100, run: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := suspectLeak(tt.slope, tt.r2, tt.points, tt.run); got != tt.want {
				t.Errorf("suspectLeak = %v, want %v", got, tt.want)
			}
		})
	}
}
