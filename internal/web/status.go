package web

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// Status page figures.
const (
	// historyDays is how many days the uptime bar can show.
	historyDays = 90
	// pastOutages is how many outages the page lists.
	pastOutages = 20
)

// view is who a status page is for.
type view int

const (
	// viewInternal shows everything: probe errors, causes, the store's
	// health and links to the API and /metrics.
	viewInternal view = iota
	// viewPublic shows states, since, availability and human words only.
	viewPublic
)

type summaryView struct {
	State sla.State
	Text  string
}

type incidentView struct {
	ID, Text, Affected string
	Features           []incidentFeatureView
	Updates            []updateView
}

type incidentFeatureView struct {
	Service, Title string
	State          sla.State
	StateText      string
}

// updateView is one operator update under an incident, newest first.
type updateView struct {
	Time, TimeISO, Status, StatusClass, Message string
}

type legendItem struct{ Class, Text string }

type serviceView struct {
	ID, Title string
	Features  []featureView
}

type featureView struct {
	Title               string
	State               sla.State
	StateText           string
	Flapping            bool
	SinceText, SinceISO string
	Reason              string
	Availability        string
	Objective, Below    string
	BarLabel            string
	Days                []dayView
	// From is the bar's left label: "90 days ago", or when monitoring
	// began less than historyDays ago.
	From string
}

type dayView struct{ Class, Tip string }

// vantageView is the banner of an impaired vantage: since when, and why.
type vantageView struct{ Text, Reason string }

// vantageBanner is the status page's banner while the agent's canaries
// fail, nil while its vantage is up.
func vantageBanner(v sla.VantageStatus, c *catalog, now time.Time) *vantageView {
	if v.Up || !v.Configured {
		return nil
	}
	b := &vantageView{Text: c.VantageImpairedNoSince}
	if !v.Since.IsZero() {
		since := v.Since.In(now.Location())
		b.Text = fmt.Sprintf(c.VantageImpaired, c.shortTime(since, now), c.duration(now.Sub(since).Seconds()))
	}
	if v.Reason != "" {
		b.Reason = fmt.Sprintf(c.VantageReason, v.Reason)
	}
	return b
}

// maintenanceView is a planned window under way or ahead.
type maintenanceView struct {
	Name, When, Reason string
}

type outageView struct {
	Feature, Start, StartISO, Duration, Cause string
}

// pageView is which view r asks for: /internal and /public always, /
// the public one when web.public is set.
func pageView(r *http.Request, pc *pageConfig) view {
	switch r.URL.Path {
	case "/internal":
		return viewInternal
	case "/public":
		return viewPublic
	}
	if pc.public {
		return viewPublic
	}
	return viewInternal
}

// statusPage serves /, /internal and /public: per service, every
// feature's state in words and color, since when, 30-day availability
// against its objective and an uptime bar of up to 90 days; active
// incidents with their updates on top, past outages below. Services with
// trouble come first, then in config order; within a service, features by
// severity. The public view leaves out probe errors, causes and the links
// to the API.
func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	c := catalogFor(r)
	pc := s.pageConfig()
	v := pageView(r, pc)
	engine := s.backend.Engine()
	loc := s.location(pc)
	now := engine.Now().In(loc)
	features := s.readFeatures()
	data := s.pageBase(r, c, c.StatusTitle, now)
	data.Public = v == viewPublic
	if h := engine.StoreHealth(); h.Failing() && v == viewInternal {
		data.StoreWarning = fmt.Sprintf(c.StoreFailing, h.LastError, c.dateTime(h.Since.In(loc)), h.Pending)
	}
	data.Vantage = vantageBanner(s.readVantage(), c, now)
	if data.Vantage != nil && v == viewPublic {
		data.Vantage.Reason = ""
	}
	data.Summary = summarize(features, c)
	data.Legend = []legendItem{{"ok", c.LegendNone}, {"minor", c.LegendMinor}, {"partial", c.LegendPartial},
		{"major", c.LegendMajor}, {"nodata", c.LegendNoData}}

	data.Incidents = s.activeIncidents(engine, pc, c, loc, now)

	for _, m := range s.maintenanceWindows(pc, now) {
		if !m.End.After(now) {
			continue
		}
		name := pc.serviceTitle(c, m.Service, serviceTitleOf(features, m.Service))
		for _, f := range features {
			if m.Feature != "" && f.Service == m.Service && f.Feature == m.Feature {
				name += " — " + pc.featureTitle(c, f.Service, f.Feature, f.Title)
			}
		}
		data.Maintenance = append(data.Maintenance, maintenanceView{Name: name, When: c.span(m.Start.In(loc), m.End.In(loc)), Reason: m.Reason})
	}

	titles := map[[2]string]string{}
	for _, f := range pc.orderFeatures(features) {
		svcTitle := pc.serviceTitle(c, f.Service, f.ServiceTitle)
		f.Title = pc.featureTitle(c, f.Service, f.Feature, f.Title)
		titles[[2]string{f.Service, f.Feature}] = svcTitle + " — " + f.Title
		if n := len(data.Services); n == 0 || data.Services[n-1].ID != f.Service {
			data.Services = append(data.Services, serviceView{ID: f.Service, Title: svcTitle})
		}
		svc := &data.Services[len(data.Services)-1]
		fv := featureStatusView(f, engine.DailyHistory(f.Service, f.Feature, historyDays, loc), c, now)
		if v == viewPublic {
			fv.Reason = c.publicReason(f.State, f.Reason)
		} else {
			fv.Reason = c.reason(f.Reason)
		}
		svc.Features = append(svc.Features, fv)
	}

	// Most pages need only the last month to find 20 outages.
	outages := engine.Outages(sla.OutageQuery{Since: now.AddDate(0, -1, 0)})
	if len(outages) < pastOutages {
		outages = engine.Outages(sla.OutageQuery{})
	}
	outages = outages[:min(len(outages), pastOutages)]
	data.OutagesCaption = fmt.Sprintf(c.OutagesCaption, len(outages))
	for _, o := range outages {
		name, ok := titles[[2]string{o.Service, o.Feature}]
		if !ok {
			name = o.Service + "/" + o.Feature // no longer configured
		}
		ov := outageView{Feature: name, Start: c.dateTime(o.Start.In(loc)), StartISO: o.Start.Format(time.RFC3339),
			Duration: c.duration(o.DurationSeconds), Cause: "—"}
		if o.End == nil {
			ov.Duration = fmt.Sprintf(c.Ongoing, c.duration(o.DurationSeconds))
		}
		if o.Cause.Check != "" && v == viewInternal {
			ov.Cause = o.Cause.Check + ": " + o.Cause.Error
		}
		data.Outages = append(data.Outages, ov)
	}
	s.render(w, statusTemplate, c, data)
}

// incidentView is an active incident's banner: the count of its features
// per state, the features, and the operators' updates, newest first.
func (s *Server) incidentView(inc sla.Incident, pc *pageConfig, c *catalog, loc *time.Location, now time.Time) incidentView {
	v := incidentView{ID: inc.ID, Text: c.incidentText(inc, loc, now), Affected: fmt.Sprintf(c.Affected, len(inc.Features))}
	for _, f := range inc.Features {
		v.Features = append(v.Features, incidentFeatureView{Service: pc.serviceTitle(c, f.Service, f.ServiceTitle),
			Title: pc.featureTitle(c, f.Service, f.Feature, f.Title), State: f.State, StateText: c.state(f.State, false)})
	}
	for _, u := range s.updates(inc) {
		v.Updates = append(v.Updates, c.updateView(u, loc, now))
	}
	slices.Reverse(v.Updates)
	return v
}

// updates are the operators' updates of an incident, oldest first.
func (s *Server) updates(inc sla.Incident) []IncidentUpdate {
	if s.opts.Updates == nil {
		return nil
	}
	u := slices.Clone(s.opts.Updates(inc))
	slices.SortStableFunc(u, func(a, b IncidentUpdate) int { return a.Time.Compare(b.Time) })
	return u
}

func featureStatusView(f sla.FeatureStatus, days []sla.Day, c *catalog, now time.Time) featureView {
	days = monitoredDays(days)
	v := featureView{Title: orName(f.Title, f.Feature), State: f.State, StateText: c.state(f.State, false),
		Flapping: f.Flapping, Reason: f.Reason, Availability: percent(f.Availability.Month), BarLabel: c.barLabel(days),
		From: fmt.Sprintf(c.DaysAgo, historyDays)}
	if len(days) < historyDays && len(days) > 0 {
		v.From = fmt.Sprintf(c.MonitoringSince, c.date(days[0].Date))
	}
	if !f.Since.IsZero() {
		v.SinceText, v.SinceISO = c.since(f.Since.In(now.Location()), now), f.Since.Format(time.RFC3339)
	}
	if f.SLO.Objective > 0 {
		v.Objective = fmt.Sprintf(c.Objective, percent(f.SLO.Objective))
		if f.Availability.Month < f.SLO.Objective {
			v.Below = c.Below
		}
	}
	for _, d := range days {
		v.Days = append(v.Days, dayView{Class: dayClass(d), Tip: c.dayTip(d)})
	}
	return v
}

// monitoredDays drops the days before monitoring began: a new install
// shows its few days, not 89 grey ones. Today always stays.
func monitoredDays(days []sla.Day) []sla.Day {
	for i, d := range days {
		if d.EligibleSeconds > 0 || d.MaintenanceSeconds > 0 || d.DowntimeSeconds > 0 {
			return days[i:]
		}
	}
	return days[max(len(days)-1, 0):]
}

// dayClass colors a day by the share of its eligible time that was down.
func dayClass(d sla.Day) string {
	if d.EligibleSeconds <= 0 {
		return "nodata"
	}
	switch ratio := d.DowntimeSeconds / d.EligibleSeconds; {
	case ratio <= 0:
		return "ok"
	case ratio < 0.01:
		return "minor"
	case ratio <= 0.1:
		return "partial"
	default:
		return "major"
	}
}

// summarize counts the features per state; the worst state colors it.
func summarize(features []sla.FeatureStatus, c *catalog) summaryView {
	if len(features) == 0 {
		return summaryView{State: sla.StateUnknown, Text: c.NoFeatures}
	}
	counts := map[sla.State]int{}
	worst := sla.StateUp
	for _, f := range features {
		counts[f.State]++
		if worse(f.State, worst) {
			worst = f.State
		}
	}
	return summaryView{State: worst, Text: c.summary(counts, len(features))}
}

func orName(title, name string) string {
	if title != "" {
		return title
	}
	return name
}

// activeIncidents are the banners of the open incidents: the grouped ones,
// then those operators opened.
func (s *Server) activeIncidents(engine *sla.Engine, pc *pageConfig, c *catalog, loc *time.Location, now time.Time) []incidentView {
	var out []incidentView
	for _, inc := range engine.Incidents(sla.IncidentQuery{Active: true}) {
		out = append(out, s.incidentView(inc, pc, c, loc, now))
	}
	for _, m := range s.manualIncidents() {
		if m.End == nil {
			out = append(out, manualIncidentView(m, pc, c, loc, now))
		}
	}
	return out
}

// manualIncidents are the operators' incidents, or none.
func (s *Server) manualIncidents() []ManualIncident {
	if s.opts.ManualIncidents == nil {
		return nil
	}
	return s.opts.ManualIncidents()
}

// manualIncidentView is an open manual incident's banner: its title in the
// reader's language, what it affects, the updates newest first.
func manualIncidentView(m ManualIncident, pc *pageConfig, c *catalog, loc *time.Location, now time.Time) incidentView {
	title := m.Title[c.lang]
	if title == "" {
		title = cmp.Or(m.Title["en"], m.ID)
	}
	v := incidentView{ID: m.ID, Text: title, Affected: fmt.Sprintf(c.Affected, len(m.Affected))}
	for _, a := range m.Affected {
		service, feature, _ := strings.Cut(a, "/")
		name := pc.serviceTitle(c, service, service)
		if feature != "" {
			name += " · " + pc.featureTitle(c, service, feature, feature)
		}
		v.Features = append(v.Features, incidentFeatureView{Service: name})
	}
	updates := slices.Clone(m.Updates)
	slices.SortStableFunc(updates, func(a, b IncidentUpdate) int { return b.Time.Compare(a.Time) })
	for _, u := range updates {
		v.Updates = append(v.Updates, c.updateView(u, loc, now))
	}
	return v
}
