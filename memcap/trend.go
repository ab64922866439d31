package memcap

import "time"

// Leak heuristic: a run is a suspected leak when the live heap grew by
// more than leakSlope MiB per minute, the run lasted at least leakMinRun,
// and the straight line explains the points well (r² >= leakMinR2), i.e.
// the growth is steady rather than one step. A run that legitimately
// accumulates (a report kept in memory until the end) also matches: the
// flag is a hint to look at the profiles, not a verdict.
const (
	leakSlope     = 1.0 // MiB per minute
	leakMinRun    = 30 * time.Second
	leakMinR2     = 0.8
	leakMinPoints = 8

	trendPoints = 512 // bound of the series kept for the regression
)

type point struct {
	t float64 // seconds since Start
	y float64 // live heap, MiB
}

// trend keeps a bounded, evenly spaced series of live-heap points covering
// the whole run: a point is kept every step; when trendPoints are held,
// every other one is dropped and step doubles. Memory stays constant and
// the regression still sees the run from its start, which a ring of the
// last N points would not.
type trend struct {
	pts  []point
	step time.Duration
	next time.Duration // elapsed time of the next point to keep
}

func newTrend(step time.Duration) trend {
	return trend{pts: make([]point, 0, trendPoints), step: step}
}

// add records live heap bytes at elapsed, if a point is due.
func (tr *trend) add(elapsed time.Duration, live uint64) {
	if elapsed < tr.next {
		return
	}
	if len(tr.pts) == cap(tr.pts) {
		n := 0
		for i := 0; i < len(tr.pts); i += 2 {
			tr.pts[n] = tr.pts[i]
			n++
		}
		tr.pts = tr.pts[:n]
		tr.step *= 2
	}
	tr.pts = append(tr.pts, point{t: elapsed.Seconds(), y: float64(live) / (1 << 20)})
	tr.next = elapsed + tr.step
}

// fitSlope returns the least-squares slope of pts in MiB per minute and the
// coefficient of determination r² (0 for fewer than two distinct times or
// a perfectly flat series, where no trend is explained).
func fitSlope(pts []point) (slopePerMin, r2 float64) {
	n := float64(len(pts))
	if len(pts) < 2 {
		return 0, 0
	}
	var mt, my float64
	for _, p := range pts {
		mt += p.t
		my += p.y
	}
	mt /= n
	my /= n
	var sxx, sxy, syy float64
	for _, p := range pts {
		dt, dy := p.t-mt, p.y-my
		sxx += dt * dt
		sxy += dt * dy
		syy += dy * dy
	}
	if sxx == 0 {
		return 0, 0
	}
	slope := sxy / sxx
	if syy > 0 {
		r2 = sxy * sxy / (sxx * syy)
	}
	return slope * 60, r2
}

// suspectLeak applies the heuristic above.
func suspectLeak(slopePerMin, r2 float64, points int, run time.Duration) bool {
	return slopePerMin > leakSlope && r2 >= leakMinR2 && points >= leakMinPoints && run >= leakMinRun
}
