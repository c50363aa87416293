package globalview

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// DefaultIncidentWindow is how close the starts of global outages must be
// to group them, as an agent's incidents (sla.DefaultIncidentWindow).
const DefaultIncidentWindow = sla.DefaultIncidentWindow

// IncidentQuery selects global incidents and sets the window. The zero
// value selects every incident with the default window.
type IncidentQuery struct {
	// Since and Until select incidents overlapping [Since, Until]; a zero
	// value leaves that end open.
	Since, Until time.Time
	// Active selects only incidents with an open global outage.
	Active bool
	// Window: 0 is DefaultIncidentWindow.
	Window time.Duration
}

// IncidentFeature is one feature of a global incident: its global outage
// in it (the open one, else the latest).
type IncidentFeature struct {
	Service string     `json:"service"`
	Feature string     `json:"feature"`
	Start   time.Time  `json:"start"`
	End     *time.Time `json:"end"` // nil while its global outage is open
	Regions []string   `json:"regions"`
}

// Incident is global outages of several features that started close
// together: most likely one cause. The shape follows an agent's
// /api/v1/incidents, without label and value (agents do not publish
// feature labels), with the services instead.
type Incident struct {
	// ID is stable for as long as the grouping is: start and first service.
	ID       string     `json:"id"`
	Start    time.Time  `json:"start"`
	End      *time.Time `json:"end"` // nil while any of its outages is open
	Services []string   `json:"services"`
	// Features are sorted by service and feature.
	Features []IncidentFeature `json:"features"`
	// ActiveCount is how many of the features have an open global outage.
	ActiveCount int `json:"active_count"`
	// Title is a one-line summary in English, times in UTC, e.g.
	// "talk, pay: 2 features down since 1 Nov 00:01 UTC".
	Title string `json:"title"`
}

// Incidents groups global outages (as Outages returns them, in any order)
// into incidents and returns those matching q, active first, then newest
// first. The rule, as the global view has no feature labels:
//
//  1. per service, outages whose start is within the window of the
//     previous one's start (in start order) chain into a service cluster;
//  2. across services, a cluster joins the group of the cluster before it
//     (in start order) when its own start is within the window of that
//     cluster's start: a long cascade inside one service does not sweep
//     in a service that failed much later than the cascade began;
//  3. a group with at least 2 distinct features is an incident.
func Incidents(outages []Outage, q IncidentQuery) []Incident {
	if q.Window <= 0 {
		q.Window = DefaultIncidentWindow
	}
	var out []Incident
	for _, group := range groupOutages(outages, q.Window) {
		inc, ok := incidentOf(group)
		if !ok || (q.Active && inc.End != nil) ||
			(!q.Until.IsZero() && inc.Start.After(q.Until)) ||
			(!q.Since.IsZero() && inc.End != nil && inc.End.Before(q.Since)) {
			continue
		}
		out = append(out, inc)
	}
	slices.SortStableFunc(out, func(a, b Incident) int {
		if (a.End == nil) != (b.End == nil) {
			if a.End == nil {
				return -1
			}
			return 1
		}
		return b.Start.Compare(a.Start)
	})
	return out
}

// groupOutages applies rules 1 and 2.
func groupOutages(outages []Outage, window time.Duration) [][]Outage {
	sorted := slices.Clone(outages)
	slices.SortStableFunc(sorted, func(a, b Outage) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Service, b.Service), cmp.Compare(a.Feature, b.Feature))
	})
	var clusters [][]Outage  // per service, in order of their first start
	open := map[string]int{} // service -> its current cluster's index
	for _, o := range sorted {
		if i, ok := open[o.Service]; ok {
			last := clusters[i][len(clusters[i])-1]
			if o.Start.Sub(last.Start) <= window {
				clusters[i] = append(clusters[i], o)
				continue
			}
		}
		open[o.Service] = len(clusters)
		clusters = append(clusters, []Outage{o})
	}
	var groups [][]Outage
	for i, c := range clusters {
		if i > 0 && c[0].Start.Sub(clusters[i-1][0].Start) <= window {
			groups[len(groups)-1] = append(groups[len(groups)-1], c...)
			continue
		}
		groups = append(groups, slices.Clone(c))
	}
	return groups
}

// incidentOf describes a group; ok is false with fewer than 2 features.
func incidentOf(group []Outage) (Incident, bool) {
	type key struct{ service, feature string }
	byFeature := map[key]Outage{}
	inc := Incident{Start: group[0].Start, Services: []string{}}
	var end time.Time
	open := false
	for _, o := range group {
		inc.Start = minTime(inc.Start, o.Start)
		if o.End == nil {
			open = true
		} else if o.End.After(end) {
			end = *o.End
		}
		k := key{o.Service, o.Feature}
		if prev, ok := byFeature[k]; !ok || (prev.End != nil && (o.End == nil || o.Start.After(prev.Start))) {
			byFeature[k] = o
		}
		if !slices.Contains(inc.Services, o.Service) {
			inc.Services = append(inc.Services, o.Service)
		}
	}
	if len(byFeature) < 2 {
		return Incident{}, false
	}
	if !open {
		inc.End = &end
	}
	for _, o := range byFeature {
		regions := o.Regions
		if regions == nil {
			regions = []string{}
		}
		inc.Features = append(inc.Features, IncidentFeature{Service: o.Service, Feature: o.Feature,
			Start: o.Start, End: o.End, Regions: regions})
		if o.End == nil {
			inc.ActiveCount++
		}
	}
	slices.SortFunc(inc.Features, func(a, b IncidentFeature) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Feature, b.Feature))
	})
	inc.ID = inc.Start.UTC().Format("20060102T150405Z") + "-global-" + idSafe(inc.Services[0])
	inc.Title = incidentTitle(&inc)
	return inc, true
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func idSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}

// incidentTitle is worded as an agent's incident title, the services in
// place of the label.
func incidentTitle(inc *Incident) string {
	what := strings.Join(inc.Services, ", ")
	total := len(inc.Features)
	start := inc.Start.UTC().Format("2 Jan 15:04 MST")
	if inc.End == nil {
		count := fmt.Sprintf("%d features", inc.ActiveCount)
		if inc.ActiveCount == 1 {
			count = "1 feature"
		}
		if inc.ActiveCount < total {
			count = fmt.Sprintf("%d of %d features", inc.ActiveCount, total)
		}
		return fmt.Sprintf("%s: %s down since %s", what, count, start)
	}
	return fmt.Sprintf("%s: %d features were down for %s from %s", what, total, inc.End.Sub(inc.Start).Round(time.Second), start)
}
