package sla

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Incident grouping defaults: outages that start within DefaultIncidentWindow
// of each other and share a label value form one incident when at least
// DefaultIncidentMinFeatures features are in it.
const (
	DefaultIncidentWindow      = 5 * time.Minute
	DefaultIncidentMinFeatures = 2
)

// RegionLabel is the label key under which the agent's region takes part in
// incident grouping, as if every feature carried it.
const RegionLabel = "region"

// IncidentQuery selects incidents and sets the grouping rules. The zero value
// selects every incident under the default rules.
type IncidentQuery struct {
	// Since and Until select incidents overlapping [Since, Until]; a zero
	// value leaves that end open.
	Since, Until time.Time
	// Active selects only incidents that still have an open outage.
	Active bool
	// Limit caps how many incidents are returned; 0 means all.
	Limit int
	// Window is how close together the starts of outages must be to group
	// them; 0 means DefaultIncidentWindow.
	Window time.Duration
	// MinFeatures is the fewest features an incident has; 0 means
	// DefaultIncidentMinFeatures. Values below 2 are raised to 2: one
	// feature's outage is an outage, not an incident.
	MinFeatures int
}

// IncidentFeature is one feature of an incident.
type IncidentFeature struct {
	Service      string `json:"service"`
	Feature      string `json:"feature"`
	Title        string `json:"title"`
	ServiceTitle string `json:"service_title"`
	// OutageID is the feature's outage in the incident: the open one, else
	// the latest.
	OutageID uint64 `json:"outage_id"`
	// State is the feature's state now.
	State State      `json:"state"`
	Start time.Time  `json:"start"`
	End   *time.Time `json:"end"` // nil while its outage is open
}

// Incident is outages of several features that started close together and
// share a label value (a data center, the region, a dependency): most likely
// one cause.
type Incident struct {
	// ID is stable for as long as the grouping is: start, label and value.
	ID     string     `json:"id"`
	Label  string     `json:"label"` // the label key, e.g. "datacenter"
	Value  string     `json:"value"` // e.g. "pangyo"
	Region string     `json:"region"`
	Start  time.Time  `json:"start"`
	End    *time.Time `json:"end"` // nil while any of its outages is open
	// Features are sorted by service and feature.
	Features []IncidentFeature `json:"features"`
	// ActiveCount is how many of the features have an open outage.
	ActiveCount int `json:"active_count"`
	// Title is a one-line summary in English, times in UTC, e.g.
	// "datacenter pangyo: 37 features down since 15 Oct 06:33 UTC".
	Title string `json:"title"`
}

// Active reports whether the incident still has an open outage.
func (i *Incident) Active() bool { return i.End == nil }

// incidentFeat is a snapshot of one feature for grouping.
type incidentFeat struct {
	service, feature, title, serviceTitle string
	labels                                map[string]string
	state                                 State
}

// incidentEntry is one outage of a feature.
type incidentEntry struct {
	feat       int
	id         uint64
	start, end int64 // end is never while open
}

// labelValue is a grouping label pair.
type labelValue struct{ key, value string }

// Incidents groups outages into incidents and returns those matching q,
// active ones first, then newest first. It covers the whole retained
// history, removed features included. Outages are grouped as follows: for
// each label pair carried by the failing features (the agent's region counts
// as label "region"), their outages whose starts are within q.Window of the
// previous one form a candidate; the candidate explaining the most features
// becomes an incident (on a tie a specific label beats the region), its
// outages leave the pool, and so on while a candidate has q.MinFeatures.
func (e *Engine) Incidents(q IncidentQuery) []Incident {
	if q.Window <= 0 {
		q.Window = DefaultIncidentWindow
	}
	if q.MinFeatures <= 0 {
		q.MinFeatures = DefaultIncidentMinFeatures
	}
	q.MinFeatures = max(q.MinFeatures, 2)
	since, until := int64(-1<<63), never
	if !q.Since.IsZero() {
		since = q.Since.UnixNano()
	}
	if !q.Until.IsZero() {
		until = q.Until.UnixNano()
	}
	feats, entries := e.incidentSnapshot()
	slices.SortFunc(entries, func(a, b incidentEntry) int {
		return cmp.Or(cmp.Compare(a.start, b.start), cmp.Compare(a.feat, b.feat))
	})
	window := int64(q.Window)
	var out []Incident
	// A label chain never spans a gap of more than window between
	// consecutive starts of all outages, so each such component groups
	// on its own: only components the query can see need the work.
	for lo := 0; lo < len(entries); {
		hi := lo + 1
		open, last := entries[lo].end == never, entries[lo].end
		for hi < len(entries) && entries[hi].start-entries[hi-1].start <= window {
			open = open || entries[hi].end == never
			last = max(last, entries[hi].end)
			hi++
		}
		if (!q.Active || open) && entries[lo].start <= until && last >= since {
			for _, inc := range groupComponent(feats, entries[lo:hi], window, q.MinFeatures) {
				end := never
				if inc.End != nil {
					end = inc.End.UnixNano()
				}
				if (!q.Active || inc.Active()) && inc.Start.UnixNano() <= until && end >= since {
					inc.Region = e.region
					out = append(out, inc)
				}
			}
		}
		lo = hi
	}
	slices.SortFunc(out, func(a, b Incident) int {
		if a.Active() != b.Active() {
			if a.Active() {
				return -1
			}
			return 1
		}
		return cmp.Or(b.Start.Compare(a.Start), cmp.Compare(a.ID, b.ID))
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

// incidentSnapshot copies what grouping needs of every known feature.
func (e *Engine) incidentSnapshot() ([]incidentFeat, []incidentEntry) {
	now := e.nowNanos()
	e.mu.RLock()
	features, region := e.all, e.region
	e.mu.RUnlock()
	// Not sized by the features: only those with outages are copied, and
	// the notify watcher takes a snapshot every few seconds.
	var feats []incidentFeat
	var entries []incidentEntry
	for _, f := range features {
		f.mu.Lock()
		if len(f.outages) == 0 {
			f.mu.Unlock()
			continue
		}
		f.ensureMaint(now)
		state, _ := f.shownState(now)
		labels := maps.Clone(f.spec.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		if _, ok := labels[RegionLabel]; !ok && region != "" {
			labels[RegionLabel] = region // a feature's own region label is more specific
		}
		idx := len(feats)
		feats = append(feats, incidentFeat{service: f.spec.Service, feature: f.spec.Feature, title: f.spec.Title,
			serviceTitle: f.spec.ServiceTitle, labels: labels, state: state})
		for _, o := range f.outages {
			end := o.End
			if end == openEnd {
				end = never
			}
			entries = append(entries, incidentEntry{feat: idx, id: o.ID, start: o.Start, end: end})
		}
		f.mu.Unlock()
	}
	return feats, entries
}

// candidate is a chain of outages of features sharing one label pair.
type candidate struct {
	label    labelValue
	entries  []int // indexes into the component, by start
	features int   // distinct features
}

// better reports whether a explains more than b: more features, then a
// specific label over the region, then the earlier start, then by name.
func (a *candidate) better(b *candidate, comp []incidentEntry) bool {
	if b == nil {
		return true
	}
	if a.features != b.features {
		return a.features > b.features
	}
	if ar, br := a.label.key == RegionLabel, b.label.key == RegionLabel; ar != br {
		return br
	}
	if as, bs := comp[a.entries[0]].start, comp[b.entries[0]].start; as != bs {
		return as < bs
	}
	return cmp.Or(cmp.Compare(a.label.key, b.label.key), cmp.Compare(a.label.value, b.label.value)) < 0
}

// groupComponent runs the greedy grouping over one component, whose entries
// are sorted by start.
func groupComponent(feats []incidentFeat, comp []incidentEntry, window int64, minFeatures int) []Incident {
	taken := make([]bool, len(comp))
	var out []Incident
	for {
		byLabel := map[labelValue][]int{}
		for i, en := range comp {
			if taken[i] {
				continue
			}
			for k, v := range feats[en.feat].labels {
				lv := labelValue{k, v}
				byLabel[lv] = append(byLabel[lv], i)
			}
		}
		var best *candidate
		for lv, list := range byLabel {
			for chainStart := 0; chainStart < len(list); {
				chainEnd := chainStart + 1
				for chainEnd < len(list) && comp[list[chainEnd]].start-comp[list[chainEnd-1]].start <= window {
					chainEnd++
				}
				c := &candidate{label: lv, entries: list[chainStart:chainEnd], features: distinctFeatures(comp, list[chainStart:chainEnd])}
				if c.features >= minFeatures && c.better(best, comp) {
					best = c
				}
				chainStart = chainEnd
			}
		}
		if best == nil {
			return out
		}
		for _, i := range best.entries {
			taken[i] = true
		}
		out = append(out, makeIncident(feats, comp, best))
	}
}

func distinctFeatures(comp []incidentEntry, list []int) int {
	seen := make(map[int]bool, len(list))
	for _, i := range list {
		seen[comp[i].feat] = true
	}
	return len(seen)
}

// makeIncident builds the incident of a chosen candidate.
func makeIncident(feats []incidentFeat, comp []incidentEntry, c *candidate) Incident {
	type agg struct {
		start, end int64
		id         uint64
		idStart    int64
		open       bool
	}
	byFeat := map[int]*agg{}
	start, end := never, int64(0)
	for _, i := range c.entries {
		en := comp[i]
		start, end = min(start, en.start), max(end, en.end)
		a := byFeat[en.feat]
		if a == nil {
			a = &agg{start: en.start, end: en.end, id: en.id, idStart: en.start}
			byFeat[en.feat] = a
		}
		a.start, a.end = min(a.start, en.start), max(a.end, en.end)
		// The open outage, else the latest, is the one to point at.
		if en.end == never || (!a.open && en.start >= a.idStart) {
			a.id, a.idStart = en.id, en.start
		}
		a.open = a.open || en.end == never
	}
	inc := Incident{Label: c.label.key, Value: c.label.value, Start: timeOf(start), Features: make([]IncidentFeature, 0, len(byFeat))}
	if end != never {
		t := timeOf(end)
		inc.End = &t
	}
	for fi, a := range byFeat {
		f := feats[fi]
		incf := IncidentFeature{Service: f.service, Feature: f.feature, Title: f.title, ServiceTitle: f.serviceTitle,
			OutageID: a.id, State: f.state, Start: timeOf(a.start)}
		if a.open {
			inc.ActiveCount++
		} else {
			t := timeOf(a.end)
			incf.End = &t
		}
		inc.Features = append(inc.Features, incf)
	}
	slices.SortFunc(inc.Features, func(a, b IncidentFeature) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Feature, b.Feature))
	})
	inc.ID = incidentID(inc.Start, inc.Label, inc.Value)
	inc.Title = incidentTitle(&inc)
	return inc
}

// incidentID is readable and URL-safe: 20221015T063300Z-datacenter-pangyo.
func incidentID(start time.Time, key, value string) string {
	safe := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '-' || r == '.' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
				return r
			}
			return '_'
		}, s)
	}
	return start.UTC().Format("20060102T150405Z") + "-" + safe(key) + "-" + safe(value)
}

func incidentTitle(inc *Incident) string {
	what := inc.Label + " " + inc.Value
	total := len(inc.Features)
	if inc.Active() {
		count := fmt.Sprintf("%d features", inc.ActiveCount)
		if inc.ActiveCount == 1 {
			count = "1 feature"
		}
		if inc.ActiveCount < total {
			count = fmt.Sprintf("%d of %d features", inc.ActiveCount, total)
		}
		return fmt.Sprintf("%s: %s down since %s", what, count, inc.Start.UTC().Format("2 Jan 15:04 MST"))
	}
	return fmt.Sprintf("%s: %d features were down for %s from %s", what, total,
		inc.End.Sub(inc.Start).Round(time.Second), inc.Start.UTC().Format("2 Jan 15:04 MST"))
}
