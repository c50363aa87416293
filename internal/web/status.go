package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// Status page figures.
const (
	// historyDays is how many days the uptime bar shows.
	historyDays = 90
	// pastOutages is how many outages the page lists.
	pastOutages = 20
)

type summaryView struct {
	State sla.State
	Text  string
}

type incidentView struct {
	ID, Text, Affected string
	Features           []incidentFeatureView
}

type incidentFeatureView struct {
	Service, Title string
	State          sla.State
	StateText      string
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

type outageView struct {
	Feature, Start, StartISO, Duration, Cause string
}

// statusPage serves / : per service, every feature's state in words and
// color, since when, 30-day availability against its objective and a
// 90-day uptime bar; active incidents on top, past outages below.
func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	c := catalogFor(r)
	engine := s.backend.Engine()
	loc := s.location()
	now := engine.Now().In(loc)
	features := s.readFeatures()
	data := s.pageBase(r, c, c.StatusTitle, now)
	data.DaysAgo = fmt.Sprintf(c.DaysAgo, historyDays)
	if h := engine.StoreHealth(); h.Failing() {
		data.StoreWarning = fmt.Sprintf(c.StoreFailing, h.LastError, c.dateTime(h.Since.In(loc)), h.Pending)
	}
	data.Vantage = vantageBanner(s.readVantage(), c, now)
	data.Summary = summarize(features, c)
	data.Legend = []legendItem{{"ok", c.LegendNone}, {"minor", c.LegendMinor}, {"partial", c.LegendPartial},
		{"major", c.LegendMajor}, {"nodata", c.LegendNoData}}

	for _, inc := range engine.Incidents(sla.IncidentQuery{Active: true}) {
		v := incidentView{ID: inc.ID, Text: c.incidentText(inc, loc, now), Affected: fmt.Sprintf(c.Affected, len(inc.Features))}
		for _, f := range inc.Features {
			v.Features = append(v.Features, incidentFeatureView{Service: orName(f.ServiceTitle, f.Service),
				Title: orName(f.Title, f.Feature), State: f.State, StateText: c.state(f.State, false)})
		}
		data.Incidents = append(data.Incidents, v)
	}

	titles := map[[2]string]string{}
	for _, f := range features {
		titles[[2]string{f.Service, f.Feature}] = orName(f.ServiceTitle, f.Service) + " — " + orName(f.Title, f.Feature)
		if n := len(data.Services); n == 0 || data.Services[n-1].ID != f.Service {
			data.Services = append(data.Services, serviceView{ID: f.Service, Title: orName(f.ServiceTitle, f.Service)})
		}
		svc := &data.Services[len(data.Services)-1]
		svc.Features = append(svc.Features, featureStatusView(f, engine.DailyHistory(f.Service, f.Feature, historyDays, loc), c, now))
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
		v := outageView{Feature: name, Start: c.dateTime(o.Start.In(loc)), StartISO: o.Start.Format(time.RFC3339),
			Duration: c.duration(o.DurationSeconds), Cause: "—"}
		if o.End == nil {
			v.Duration = fmt.Sprintf(c.Ongoing, c.duration(o.DurationSeconds))
		}
		if o.Cause.Check != "" {
			v.Cause = o.Cause.Check + ": " + o.Cause.Error
		}
		data.Outages = append(data.Outages, v)
	}
	s.render(w, statusTemplate, c, data)
}

func featureStatusView(f sla.FeatureStatus, days []sla.Day, c *catalog, now time.Time) featureView {
	v := featureView{Title: orName(f.Title, f.Feature), State: f.State, StateText: c.state(f.State, false),
		Flapping: f.Flapping, Reason: f.Reason, Availability: percent(f.Availability.Month), BarLabel: c.barLabel(days)}
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
