package web

import (
	"net/http"
	"strconv"

	"github.com/vigil-monitoring/vigil/internal/timerange"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
	"github.com/vigil-monitoring/vigil/sla"
)

// incidents serves /api/v1/incidents?active=&since=&until=&limit=&window=&min_features=
// as {"incidents": [...]}, active first, then newest first.
func (s *Server) incidents(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	var q sla.IncidentQuery
	var err error
	if v := params.Get("active"); v != "" {
		if q.Active, err = strconv.ParseBool(v); err != nil {
			badRequest(w, "active: %q is not true or false", v)
			return
		}
	}
	if q.Since, err = parseTime(params.Get("since"), timerange.Start); err != nil {
		badRequest(w, "since: %v", err)
		return
	}
	if q.Until, err = parseTime(params.Get("until"), timerange.End); err != nil {
		badRequest(w, "until: %v", err)
		return
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"limit", &q.Limit}, {"min_features", &q.MinFeatures}} {
		if v := params.Get(p.name); v != "" {
			if *p.dst, err = strconv.Atoi(v); err != nil || *p.dst < 0 {
				badRequest(w, "%s: %q is not a count", p.name, v)
				return
			}
		}
	}
	if v := params.Get("window"); v != "" {
		d, err := probeconfig.ParseDuration(v)
		if err != nil || d <= 0 {
			badRequest(w, "window: %q is not a positive duration like 5m", v)
			return
		}
		q.Window = d
	}
	type withUpdates struct {
		sla.Incident
		// Updates are the operators' updates, oldest first (issue 20).
		Updates []IncidentUpdate `json:"updates"`
	}
	incidents := s.backend.Engine().Incidents(q)
	out := make([]withUpdates, len(incidents))
	for i, inc := range incidents {
		out[i] = withUpdates{Incident: inc, Updates: []IncidentUpdate{}}
		if s.opts.Updates != nil {
			if u := s.opts.Updates(inc); u != nil {
				out[i].Updates = u
			}
		}
	}
	manual := s.manualIncidents()
	if manual == nil {
		manual = []ManualIncident{}
	}
	writeJSON(w, map[string]any{"incidents": out, "manual": manual})
}
