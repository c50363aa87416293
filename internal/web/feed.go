package web

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/vigil-monitoring/vigil/sla"
)

// Feed bounds: the entries of the last feedDays days, at most feedEntries
// of them; maintenance up to maintenanceAhead ahead.
const (
	feedDays         = 90
	feedEntries      = 100
	maintenanceAhead = 14 * 24 * time.Hour
)

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Lang    string      `xml:"xml:lang,attr,omitempty"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  atomPerson  `xml:"author"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

type atomEntry struct {
	ID         string         `xml:"id"`
	Title      string         `xml:"title"`
	Updated    string         `xml:"updated"`
	Published  string         `xml:"published,omitempty"`
	Links      []atomLink     `xml:"link"`
	Categories []atomCategory `xml:"category"`
	Content    atomText       `xml:"content"`

	updated time.Time // for sorting
}

// feed serves /feed.atom and /services/{service}/feed.atom (also
// /feed.atom?service=X): Atom 1.0 entries for incidents (with their
// updates), outages outside incidents and maintenance windows, newest
// first. Entry IDs are stable URNs (urn:vigil:<region>:incident:<id>, ...);
// an entry's updated time is its latest change. No probe errors or
// targets appear: the feed is as public as the public page.
func (s *Server) feed(w http.ResponseWriter, r *http.Request) {
	c := catalogFor(r)
	pc := s.pageConfig()
	engine := s.backend.Engine()
	loc := s.location(pc)
	now := engine.Now().In(loc)
	service := cmp.Or(r.PathValue("service"), r.URL.Query().Get("service"))
	features := s.readFeatures()
	if service != "" && !slices.ContainsFunc(features, func(f sla.FeatureStatus) bool { return f.Service == service }) {
		jsonError(w, http.StatusNotFound, "service "+strconv.Quote(service)+" is not configured")
		return
	}
	region := cmp.Or(s.opts.Region, engine.Region(), "vigil")
	urn := "urn:vigil:" + region + ":"
	titleOf := func(svc, feat string) string {
		for _, f := range features {
			if f.Service == svc && f.Feature == feat {
				return pc.serviceTitle(c, svc, f.ServiceTitle) + " — " + pc.featureTitle(c, svc, feat, f.Title)
			}
		}
		return svc + "/" + feat // no longer configured
	}
	base := requestBase(r)
	page := base + "/?lang=" + c.lang

	entries := s.feedEntries(service, urn, page, titleOf, pc, c, loc, now)
	slices.SortStableFunc(entries, func(a, b atomEntry) int {
		return cmp.Or(b.updated.Compare(a.updated), strings.Compare(a.ID, b.ID))
	})
	entries = entries[:min(len(entries), feedEntries)]

	feed := atomFeed{Lang: c.lang, ID: urn + "feed", Title: s.pageTitle(c.StatusTitle),
		Author: atomPerson{Name: "Vigil " + region}, Entries: entries,
		Links: []atomLink{{Rel: "self", Type: "application/atom+xml", Href: base + r.URL.RequestURI()},
			{Rel: "alternate", Type: "text/html", Href: page}}}
	if service != "" {
		feed.ID = urn + "feed:" + service
		feed.Title = fmt.Sprintf(c.FeedSubject, pc.serviceTitle(c, service, serviceTitleOf(features, service))) + " — " + feed.Title
	}
	updated := time.Time{}
	for _, e := range entries {
		if e.updated.After(updated) && !e.updated.After(now) {
			updated = e.updated
		}
	}
	if updated.IsZero() {
		updated = now
	}
	feed.Updated = atomTime(updated)

	out, err := xml.MarshalIndent(feed, "", "  ")
	if err != nil {
		s.opts.Logger.Error("render feed", "err", err)
		http.Error(w, "could not render the feed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/atom+xml; charset=utf-8")
	h.Set("Cache-Control", "max-age=60")
	h.Set("X-Content-Type-Options", "nosniff")
	setLanguageHeaders(w, c)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out)
}

// feedEntries are the feed's entries (one service's, or all when service is
// ""), unsorted: grouped incidents, outages outside them, manual incidents
// and maintenance windows of the last feedDays.
func (s *Server) feedEntries(service, urn, page string, titleOf func(svc, feat string) string, pc *pageConfig, c *catalog, loc *time.Location, now time.Time) []atomEntry {
	engine := s.backend.Engine()
	var entries []atomEntry
	since := now.AddDate(0, 0, -feedDays)
	inIncident := map[[2]string]map[uint64]bool{}
	for _, inc := range engine.Incidents(sla.IncidentQuery{Since: since}) {
		for _, f := range inc.Features {
			k := [2]string{f.Service, f.Feature}
			if inIncident[k] == nil {
				inIncident[k] = map[uint64]bool{}
			}
			inIncident[k][f.OutageID] = true
		}
		if service != "" && !slices.ContainsFunc(inc.Features, func(f sla.IncidentFeature) bool { return f.Service == service }) {
			continue
		}
		entries = append(entries, s.incidentEntry(inc, urn, page, titleOf, c, loc, now))
	}
	for _, o := range engine.Outages(sla.OutageQuery{Service: service, Since: since}) {
		if inIncident[[2]string{o.Service, o.Feature}][o.ID] {
			continue
		}
		entries = append(entries, outageEntry(o, urn, page, titleOf(o.Service, o.Feature), c, loc, now))
	}
	for _, m := range s.manualIncidents() {
		if m.End != nil && m.End.Before(since) {
			continue
		}
		if service != "" && !slices.ContainsFunc(m.Affected, func(a string) bool { return strings.Split(a, "/")[0] == service }) {
			continue
		}
		entries = append(entries, manualEntry(m, pc, urn, page, c, loc, now))
	}
	for _, m := range s.maintenanceWindows(pc, now) {
		if service != "" && m.Service != service {
			continue
		}
		name := pc.serviceTitle(c, m.Service, "")
		if m.Feature != "" {
			name = titleOf(m.Service, m.Feature)
		}
		entries = append(entries, maintenanceEntry(m, urn, page, name, c, loc))
	}
	return entries
}

// incidentEntry is an incident and its updates.
func (s *Server) incidentEntry(inc sla.Incident, urn, page string, titleOf func(svc, feat string) string, c *catalog, loc *time.Location, now time.Time) atomEntry {
	e := atomEntry{ID: urn + "incident:" + inc.ID, Published: atomTime(inc.Start), updated: inc.Start,
		Links: []atomLink{{Rel: "alternate", Type: "text/html", Href: page}}, Categories: []atomCategory{{Term: "incident"}}}
	var b strings.Builder
	what := c.labelName(inc.Label) + " " + inc.Value
	if inc.End == nil {
		e.Title = c.incidentText(inc, loc, now)
	} else {
		e.Title = fmt.Sprintf("%s: %s (%s)", what, c.span(inc.Start.In(loc), inc.End.In(loc)), c.updateWord("resolved"))
		e.updated = *inc.End
	}
	updates := s.updates(inc)
	for i := len(updates) - 1; i >= 0; i-- {
		u := c.updateView(updates[i], loc, now)
		fmt.Fprintf(&b, "%s, %s: %s\n", c.dateTime(updates[i].Time.In(loc)), u.Status, u.Message)
		if updates[i].Time.After(e.updated) {
			e.updated = updates[i].Time
		}
	}
	if len(updates) > 0 {
		b.WriteString("\n")
	}
	b.WriteString(fmt.Sprintf(c.Affected, len(inc.Features)) + ":\n")
	for _, f := range inc.Features {
		fmt.Fprintf(&b, "- %s: %s\n", titleOf(f.Service, f.Feature), c.state(f.State, false))
	}
	e.Content = atomText{Type: "text", Body: b.String()}
	e.Updated = atomTime(e.updated)
	return e
}

// manualEntry is an incident an operator opened and its updates.
func manualEntry(m ManualIncident, pc *pageConfig, urn, page string, c *catalog, loc *time.Location, now time.Time) atomEntry {
	title := cmp.Or(m.Title[c.lang], m.Title["en"], m.ID)
	e := atomEntry{ID: urn + "incident:" + m.ID, Published: atomTime(m.Start), updated: m.Start,
		Links: []atomLink{{Rel: "alternate", Type: "text/html", Href: page}}, Categories: []atomCategory{{Term: "incident"}}}
	e.Title = title
	if m.End != nil {
		e.Title = fmt.Sprintf("%s: %s (%s)", title, c.span(m.Start.In(loc), m.End.In(loc)), c.updateWord("resolved"))
		e.updated = *m.End
	}
	var b strings.Builder
	updates := slices.Clone(m.Updates)
	slices.SortStableFunc(updates, func(a, b IncidentUpdate) int { return b.Time.Compare(a.Time) })
	for _, u := range updates {
		v := c.updateView(u, loc, now)
		fmt.Fprintf(&b, "%s, %s: %s\n", c.dateTime(u.Time.In(loc)), v.Status, v.Message)
		if u.Time.After(e.updated) {
			e.updated = u.Time
		}
	}
	if len(updates) > 0 {
		b.WriteString("\n")
	}
	b.WriteString(fmt.Sprintf(c.Affected, len(m.Affected)) + ":\n")
	for _, a := range m.Affected {
		service, feature, _ := strings.Cut(a, "/")
		name := pc.serviceTitle(c, service, service)
		if feature != "" {
			name += " — " + pc.featureTitle(c, service, feature, feature)
		}
		fmt.Fprintf(&b, "- %s\n", name)
	}
	e.Content = atomText{Type: "text", Body: b.String()}
	e.Updated = atomTime(e.updated)
	return e
}

// outageEntry is one feature's outage that is part of no incident.
func outageEntry(o sla.Outage, urn, page, title string, c *catalog, loc *time.Location, now time.Time) atomEntry {
	e := atomEntry{ID: fmt.Sprintf("%soutage:%s/%s/%d", urn, o.Service, o.Feature, o.ID), Published: atomTime(o.Start),
		updated: o.Start, Links: []atomLink{{Rel: "alternate", Type: "text/html", Href: page}},
		Categories: []atomCategory{{Term: "outage"}, {Term: o.Service}}}
	if o.End == nil {
		e.Title = fmt.Sprintf("%s: %s %s", title, c.state(sla.StateDown, true), c.since(o.Start.In(loc), now))
		e.Content = atomText{Type: "text", Body: fmt.Sprintf(c.Ongoing, c.duration(o.DurationSeconds))}
	} else {
		e.Title = fmt.Sprintf("%s: %s %s (%s)", title, c.state(sla.StateDown, true), c.span(o.Start.In(loc), o.End.In(loc)), c.updateWord("resolved"))
		e.Content = atomText{Type: "text", Body: c.duration(o.DurationSeconds)}
		e.updated = *o.End
	}
	e.Updated = atomTime(e.updated)
	return e
}

// maintenanceEntry is a maintenance window; its updated time is its start,
// so that it stays put across requests.
func maintenanceEntry(m MaintenanceWindow, urn, page, name string, c *catalog, loc *time.Location) atomEntry {
	id := m.ID
	if id == "" {
		id = fmt.Sprintf("%s/%s/%d", m.Service, m.Feature, m.Start.Unix())
	}
	e := atomEntry{ID: urn + "maintenance:" + id, Published: atomTime(m.Start), Updated: atomTime(m.Start), updated: m.Start,
		Title:      fmt.Sprintf("%s: %s, %s", c.state(sla.StateMaintenance, false), name, c.span(m.Start.In(loc), m.End.In(loc))),
		Links:      []atomLink{{Rel: "alternate", Type: "text/html", Href: page}},
		Categories: []atomCategory{{Term: "maintenance"}, {Term: m.Service}},
		Content:    atomText{Type: "text", Body: cmp.Or(m.Reason, c.publicReasons[sla.StateMaintenance])}}
	return e
}

// maintenanceWindows lists the config's maintenance windows that end after
// feedDays ago and start within maintenanceAhead (a recurring window: its
// next one), and those Options.Maintenance declares.
func (s *Server) maintenanceWindows(pc *pageConfig, now time.Time) []MaintenanceWindow {
	var out []MaintenanceWindow
	from, until := now.AddDate(0, 0, -feedDays), now.Add(maintenanceAhead)
	if pc.cfg != nil {
		for _, svc := range pc.cfg.Services {
			for _, f := range svc.Features {
				for _, m := range f.Maintenance {
					d := time.Duration(m.Duration)
					start := m.StartTime
					if m.Cron != "" {
						sched, err := cron.ParseStandard(m.Cron)
						if err != nil {
							continue // validation reported it
						}
						start = sched.Next(now.Add(-d).In(cmp.Or(m.Location, time.UTC)))
					}
					if start.IsZero() || !start.Add(d).After(from) || start.After(until) {
						continue
					}
					out = append(out, MaintenanceWindow{Service: svc.Name, Feature: f.Name, Start: start, End: start.Add(d)})
				}
			}
		}
	}
	if s.opts.Maintenance != nil {
		out = append(out, s.opts.Maintenance()...)
	}
	return out
}

// atomTime is an RFC 3339 time in UTC, as Atom wants it.
func atomTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// span is "15 Oct 15:33–16:40", the end's date only when it differs.
func (c *catalog) span(start, end time.Time) string {
	if y, m, d := start.Date(); y == end.Year() && m == end.Month() && d == end.Day() {
		return c.dateTime(start) + "–" + end.Format("15:04")
	}
	return c.dateTime(start) + " – " + c.dateTime(end)
}

// updateWord names an update status ("resolved") in c's language.
func (c *catalog) updateWord(status string) string {
	if w, ok := c.updateWords[status]; ok {
		return w
	}
	return status
}

// requestBase is the scheme and host the request came to, for the feed's
// absolute links.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// serviceTitleOf is the engine's title of service.
func serviceTitleOf(features []sla.FeatureStatus, service string) string {
	for _, f := range features {
		if f.Service == service {
			return f.ServiceTitle
		}
	}
	return ""
}
