package globalview

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// Retention is how long the view keeps what ended: spans, outages, gaps
// and heartbeat runs that ended longer ago are dropped (30 days of figures
// plus margin).
const Retention = 35 * 24 * time.Hour

// seqWindow bounds each agent's dedupe set: a record more than about this
// many sequence numbers behind the agent's newest is taken as a duplicate
// (JetStream delivers an agent's records in order, so only a republish
// comes back that late).
const seqWindow = 4096

// View is the cross-region view: what every agent published, kept as
// spans and outages per agent and feature, from which the region and
// global timelines are computed at read time. Safe for concurrent use.
type View struct {
	opt Options

	mu       sync.RWMutex
	agents   map[string]*agentState
	agentIDs []*agentState // by index
	features map[featureKey]*featureState
	sorted   []*featureState // by service, feature
	regions  map[string]struct{}
}

type featureKey struct{ service, feature string }

// span is a presence, degraded or gap span, or an agent outage; end is
// openEnd while open. seq is the record that last set it, so a late
// earlier record never undoes a later one.
type span struct {
	start, end int64
	seq        uint64
	id         uint64    // outages
	cause      sla.Cause // outages
}

// hbRun is a run of consecutive heartbeats (in At order) with the same
// vantage: first and last At.
type hbRun struct {
	first, last int64
	up          bool
}

type agentState struct {
	index    int
	id       string
	region   string
	seen     seqSet
	maxSeq   uint64
	runs     []hbRun
	lastBeat int64 // At of the latest heartbeat; noTime before any
	final    bool  // the latest heartbeat is a clean shutdown's
	gaps     []span
	skew     time.Duration // of the newest record, when past MaxClockSkew
}

type featureState struct {
	service, feature string
	minRegions       int
	objective        float64
	replicas         []*replica // sorted by region, agent
}

// replica is one agent's record of one feature.
type replica struct {
	agent    *agentState
	presence []span
	degraded []span
	outages  []span
	// maint are the agent's maintenance windows of the feature: maintBase
	// (the rewrites up to maintFolded applied) with the rewrites of
	// maintLog applied in seq order.
	maint       []span
	maintBase   []span
	maintFolded uint64
	maintLog    []maintRewrite // by seq
}

// maintRewrite is a maintenance record: the windows from since on.
type maintRewrite struct {
	seq     uint64
	since   int64
	windows []span
}

// maintLogMax bounds a replica's log of maintenance rewrites; older ones
// are folded into its base, and a rewrite older than the folded ones is
// ignored (records come in seq order but for a republish).
const maintLogMax = 32

// New returns an empty view; zero options take their defaults.
func New(opt Options) *View {
	if opt.MinRegions <= 0 {
		opt.MinRegions = 2
	}
	if opt.StaleAfter <= 0 {
		opt.StaleAfter = 30 * time.Second
	}
	if opt.Objective <= 0 || opt.Objective >= 1 {
		opt.Objective = DefaultObjective
	}
	if opt.MaxClockSkew <= 0 {
		opt.MaxClockSkew = 5 * time.Minute
	}
	if opt.Clock == nil {
		opt.Clock = wallClock{}
	}
	return &View{opt: opt, agents: map[string]*agentState{},
		features: map[featureKey]*featureState{}, regions: map[string]struct{}{}}
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// Ingest adds one record. A record refused (invalid, or its agent and seq
// seen before) is a *Rejection and changes nothing. Records of one agent
// may come in any order: per outage id and per span start the record with
// the highest seq wins.
func (v *View) Ingest(r Record) error {
	if err := validate(&r); err != nil {
		return err
	}
	now := v.opt.Clock.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.agent(r.Agent, r.Region)
	if !a.seen.add(r.Seq) {
		return &Rejection{Reason: RejectDuplicate, Field: "seq",
			Msg: "agent " + r.Agent + " seq " + uitoa(r.Seq) + " seen before"}
	}
	if r.Seq > a.maxSeq {
		a.maxSeq = r.Seq
		a.skew = 0
		if d := r.At.Sub(now); d > v.opt.MaxClockSkew || -d > v.opt.MaxClockSkew {
			a.skew = d
		}
	}
	cutoff := now.Add(-Retention).UnixNano()
	switch r.Type {
	case TypeHeartbeat:
		a.beat(r.At.UnixNano(), r.VantageUp, r.Final, cutoff)
	case TypeGap:
		a.gaps = putSpan(a.gaps, spanOf(&r), cutoff)
	case TypeTransition:
		v.replica(a, r.Service, r.Feature) // the feature exists from its first record
	case TypePresence:
		rep := v.replica(a, r.Service, r.Feature)
		rep.presence = putSpan(rep.presence, spanOf(&r), cutoff)
	case TypeDegraded:
		rep := v.replica(a, r.Service, r.Feature)
		rep.degraded = putSpan(rep.degraded, spanOf(&r), cutoff)
	case TypeOutage:
		rep := v.replica(a, r.Service, r.Feature)
		rep.outages = putOutage(rep.outages, spanOf(&r), cutoff)
	case TypeMaintenance:
		v.replica(a, r.Service, r.Feature).rewriteMaint(&r, cutoff)
	}
	return nil
}

func spanOf(r *Record) span {
	sp := span{start: r.Start.UnixNano(), end: openEnd, seq: r.Seq, id: r.ID, cause: r.Cause}
	if r.End != nil {
		sp.end = max(r.End.UnixNano(), sp.start)
	}
	return sp
}

func (v *View) agent(id, region string) *agentState {
	if a, ok := v.agents[id]; ok {
		return a
	}
	a := &agentState{index: len(v.agentIDs), id: id, region: region, lastBeat: noTime}
	v.agents[id] = a
	v.agentIDs = append(v.agentIDs, a)
	v.regions[region] = struct{}{}
	return a
}

func (v *View) replica(a *agentState, service, feature string) *replica {
	k := featureKey{service, feature}
	f, ok := v.features[k]
	if !ok {
		f = &featureState{service: service, feature: feature,
			minRegions: v.minRegions(service, feature), objective: v.objective(service, feature)}
		v.features[k] = f
		i, _ := slices.BinarySearchFunc(v.sorted, k, func(f *featureState, k featureKey) int {
			if c := strings.Compare(f.service, k.service); c != 0 {
				return c
			}
			return strings.Compare(f.feature, k.feature)
		})
		v.sorted = slices.Insert(v.sorted, i, f)
	}
	i, found := slices.BinarySearchFunc(f.replicas, a, func(r *replica, a *agentState) int {
		if c := strings.Compare(r.agent.region, a.region); c != 0 {
			return c
		}
		return strings.Compare(r.agent.id, a.id)
	})
	if !found {
		f.replicas = slices.Insert(f.replicas, i, &replica{agent: a})
	}
	return f.replicas[i]
}

// minRegions is MinRegionsFor "service/feature", else "service", else MinRegions.
func (v *View) minRegions(service, feature string) int {
	if n, ok := v.opt.MinRegionsFor[service+"/"+feature]; ok && n > 0 {
		return n
	}
	if n, ok := v.opt.MinRegionsFor[service]; ok && n > 0 {
		return n
	}
	return v.opt.MinRegions
}

func (v *View) objective(service, feature string) float64 {
	if o, ok := v.opt.ObjectiveFor[service+"/"+feature]; ok && o > 0 && o < 1 {
		return o
	}
	if o, ok := v.opt.ObjectiveFor[service]; ok && o > 0 && o < 1 {
		return o
	}
	return v.opt.Objective
}

// rewriteMaint takes a maintenance record. Applied in seq order, as the
// agent's store applies them, each rewrite replaces the windows starting
// at or after its since by its own; so the result does not depend on the
// order the records came in.
func (rep *replica) rewriteMaint(r *Record, cutoff int64) {
	if r.Seq <= rep.maintFolded {
		return
	}
	rw := maintRewrite{seq: r.Seq, since: r.Since.UnixNano()}
	for _, w := range r.Windows {
		if s, e := w.Start.UnixNano(), w.End.UnixNano(); s < e {
			rw.windows = append(rw.windows, span{start: s, end: e, seq: r.Seq})
		}
	}
	i, _ := slices.BinarySearchFunc(rep.maintLog, r.Seq, func(m maintRewrite, seq uint64) int {
		return cmp.Compare(m.seq, seq)
	})
	rep.maintLog = slices.Insert(rep.maintLog, i, rw)
	if len(rep.maintLog) > maintLogMax {
		rep.maintBase = prune(applyRewrite(rep.maintBase, rep.maintLog[0]), cutoff)
		rep.maintFolded = rep.maintLog[0].seq
		rep.maintLog = slices.Delete(rep.maintLog, 0, 1)
	}
	list := slices.Clone(rep.maintBase)
	for _, m := range rep.maintLog {
		list = applyRewrite(list, m)
	}
	rep.maint = prune(list, cutoff)
}

// applyRewrite replaces list's windows starting at or after m.since by
// m's windows, keeping the list sorted by start.
func applyRewrite(list []span, m maintRewrite) []span {
	keep := list[:0]
	for _, w := range list {
		if w.start < m.since {
			keep = append(keep, w)
		}
	}
	keep = append(keep, m.windows...)
	slices.SortFunc(keep, func(x, y span) int { return cmpInt(x.start, y.start) })
	return keep
}

// putSpan sets the span starting at sp.start (the highest seq wins) in the
// list sorted by start, and drops spans that ended before cutoff.
func putSpan(list []span, sp span, cutoff int64) []span {
	i, found := slices.BinarySearchFunc(list, sp.start, func(s span, t int64) int {
		switch {
		case s.start < t:
			return -1
		case s.start > t:
			return 1
		}
		return 0
	})
	switch {
	case found && list[i].seq < sp.seq:
		list[i] = sp
	case !found:
		list = slices.Insert(list, i, sp)
	}
	return prune(list, cutoff)
}

// putOutage sets the outage with sp.id (the highest seq wins), keeping the
// list sorted by start.
func putOutage(list []span, sp span, cutoff int64) []span {
	for i := range list {
		if list[i].id != sp.id {
			continue
		}
		if list[i].seq > sp.seq {
			return list
		}
		list = slices.Delete(list, i, i+1)
		break
	}
	i, _ := slices.BinarySearchFunc(list, sp.start, func(s span, t int64) int {
		if s.start <= t {
			return -1
		}
		return 1
	})
	return prune(slices.Insert(list, i, sp), cutoff)
}

// prune drops the leading spans that ended before cutoff.
func prune(list []span, cutoff int64) []span {
	n := 0
	for n < len(list) && list[n].end < cutoff {
		n++
	}
	if n == 0 {
		return list
	}
	return slices.Delete(list, 0, n)
}

// beat adds a heartbeat to the agent's runs of equal vantage. A heartbeat
// that comes late and contradicts the runs on both sides of it (inside a
// run of the other vantage) is taken as a run of its own ending at once:
// it moves no edge by more than the time to the next heartbeat.
func (a *agentState) beat(at int64, up, final bool, cutoff int64) {
	if at > a.lastBeat {
		a.lastBeat, a.final = at, final
	}
	i, _ := slices.BinarySearchFunc(a.runs, at, func(r hbRun, t int64) int {
		if r.first <= t {
			return -1
		}
		return 1
	}) // runs[i-1].first <= at < runs[i].first
	switch {
	case i > 0 && at <= a.runs[i-1].last: // inside run i-1
		if a.runs[i-1].up != up {
			r := a.runs[i-1]
			a.runs = slices.Insert(a.runs, i, hbRun{at, at, up}, hbRun{at, r.last, r.up})
			a.runs[i-1].last = at
		}
	case i > 0 && a.runs[i-1].up == up:
		a.runs[i-1].last = at
		if i < len(a.runs) && a.runs[i].up == up { // joins the next run
			a.runs[i-1].last = a.runs[i].last
			a.runs = slices.Delete(a.runs, i, i+1)
		}
	case i < len(a.runs) && a.runs[i].up == up:
		a.runs[i].first = at
	default:
		a.runs = slices.Insert(a.runs, i, hbRun{at, at, up})
	}
	n := 0
	for n < len(a.runs)-1 && a.runs[n+1].first < cutoff {
		n++
	}
	a.runs = slices.Delete(a.runs, 0, n)
}

// seqSet is the set of seqs seen: all up to low, and those above it.
type seqSet struct {
	low   uint64
	above map[uint64]struct{}
}

// add records seq and reports whether it was new.
func (s *seqSet) add(seq uint64) bool {
	if seq <= s.low {
		return false
	}
	if _, ok := s.above[seq]; ok {
		return false
	}
	if s.above == nil {
		s.above = map[uint64]struct{}{}
	}
	s.above[seq] = struct{}{}
	if len(s.above) > 2*seqWindow {
		keys := make([]uint64, 0, len(s.above))
		for k := range s.above {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		s.low = keys[len(keys)-seqWindow-1]
		for _, k := range keys[:len(keys)-seqWindow] {
			delete(s.above, k)
		}
	}
	for s.low != 0 {
		if _, ok := s.above[s.low+1]; !ok {
			break
		}
		delete(s.above, s.low+1)
		s.low++
	}
	return true
}

func uitoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// Regions are the regions of every agent seen, sorted.
func (v *View) Regions() []string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]string, 0, len(v.regions))
	for r := range v.regions {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Flagged are the agents whose newest record's time is further than
// MaxClockSkew from the view's clock, with that offset (positive: the
// agent's clock is ahead). Their records are used with their own times.
func (v *View) Flagged() map[string]time.Duration {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := map[string]time.Duration{}
	for _, a := range v.agentIDs {
		if a.skew != 0 {
			out[a.id] = a.skew
		}
	}
	return out
}
