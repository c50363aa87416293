package sla

import "time"

// Span is the half-open time span [Start, End).
type Span struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Spans is how one feature's time in a range divides, as the report counts
// it: each list sorted and disjoint, inside the range. Time in the range
// outside Monitored is unmonitored (the agent not running, the feature not
// configured, a check blind); Maintenance lies inside Monitored; Down and
// Degraded lie inside Monitored less Maintenance (the eligible time).
type Spans struct {
	From, To    time.Time
	Monitored   []Span
	Maintenance []Span
	Down        []Span
	Degraded    []Span
}

// Spans returns the spans of one feature over [from, to), cut at now as
// Report cuts its range. ok is false for a feature the engine does not know.
// A contract-grade report intersects them with a contract's covered hours.
func (e *Engine) Spans(service, feature string, from, to time.Time) (s Spans, ok bool) {
	nowTime := e.clock.Now()
	now := nowTime.UnixNano()
	if to.IsZero() || to.After(nowTime) {
		to = nowTime
	}
	if from.After(to) {
		from = to
	}
	e.mu.RLock()
	f, gaps := e.features[featureKey(service, feature)], e.gaps
	e.mu.RUnlock()
	if f == nil {
		return s, false
	}
	a, b := from.UnixNano(), to.UnixNano()
	var l ledger
	f.mu.Lock()
	f.ensureMaint(now)
	l.build(f, gaps, a, b, now)
	s = Spans{From: from.UTC(), To: to.UTC(), Monitored: spansOf(l.monitored, a, b), Maintenance: spansOf(l.maint, a, b),
		Down: spansOf(l.down, a, b), Degraded: spansOf(l.degraded, a, b)}
	f.mu.Unlock()
	return s, true
}

// spansOf converts the part of list inside [from, to) to Spans.
func spansOf(list []interval, from, to int64) []Span {
	out := []Span{}
	for _, iv := range list {
		if s, e := max(iv.start, from), min(iv.end, to); s < e {
			out = append(out, Span{timeOf(s), timeOf(e)})
		}
	}
	return out
}
