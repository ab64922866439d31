package memcap

// level is how full the budget is. Levels are ordered: a higher level is
// more pressure.
type level uint8

const (
	levelNormal   level = iota // below ~50%: batches grow back
	levelHold                  // ~50-70%: batches keep their size
	levelPressure              // from 70%: batches halve once per tick
	levelCritical              // from 90%: batches return min, one GC per tick, one profile per cooldown
)

// Level thresholds, in percent of the budget. Each level is entered at its
// "enter" mark and left only below its lower "leave" mark, so a usage
// hovering around one mark does not flap between two levels every tick.
const (
	criticalEnter = 90
	criticalLeave = 80
	pressureEnter = 70
	pressureLeave = 60
	holdEnter     = 50
	holdLeave     = 45
)

func (l level) String() string {
	switch l {
	case levelNormal:
		return "normal"
	case levelHold:
		return "hold"
	case levelPressure:
		return "pressure"
	case levelCritical:
		return "critical"
	}
	return "unknown"
}

// nextLevel returns the level for usage used of budget limit, coming from
// level cur (the hysteresis).
func nextLevel(cur level, used uint64, limit int64) level {
	if limit <= 0 {
		return levelNormal
	}
	pct := float64(used) * 100 / float64(limit)
	switch {
	case pct >= criticalEnter, cur == levelCritical && pct >= criticalLeave:
		return levelCritical
	case pct >= pressureEnter, cur >= levelPressure && pct >= pressureLeave:
		return levelPressure
	case pct >= holdEnter, cur >= levelHold && pct >= holdLeave:
		return levelHold
	}
	return levelNormal
}

// The guard publishes its level and a sample counter (the "tick") in one
// atomic word, tick<<levelBits | level, so a reader sees a consistent pair.
const (
	levelBits = 2
	levelMask = 1<<levelBits - 1
)

func packState(tick uint64, l level) uint64 { return tick<<levelBits | uint64(l) }

func unpackState(s uint64) (tick uint64, l level) { return s >> levelBits, level(s & levelMask) }
