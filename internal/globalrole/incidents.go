package globalrole

import (
	"net/http"
	"strconv"
	"time"

	"github.com/vigil-monitoring/vigil/internal/globalview"
	"github.com/vigil-monitoring/vigil/internal/timerange"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// incidents serves /api/v1/global/incidents?active=&since=&until=&window=
// as {"incidents": [...]} (globalview.Incidents), active first, then
// newest first: the parameters read as an agent's /api/v1/incidents.
func (r *Role) incidents(w http.ResponseWriter, req *http.Request) {
	params := req.URL.Query()
	var q globalview.IncidentQuery
	var err error
	if v := params.Get("active"); v != "" {
		if q.Active, err = strconv.ParseBool(v); err != nil {
			badRequest(w, "active: %q is not true or false", v)
			return
		}
	}
	now := r.clock.Now()
	if q.Since, err = timerange.Parse(params.Get("since"), timerange.Start, time.Time{}, now); err != nil {
		badRequest(w, "since: %v", err)
		return
	}
	if q.Until, err = timerange.Parse(params.Get("until"), timerange.End, time.Time{}, now); err != nil {
		badRequest(w, "until: %v", err)
		return
	}
	if v := params.Get("window"); v != "" {
		d, err := probeconfig.ParseDuration(v)
		if err != nil || d <= 0 {
			badRequest(w, "window: %q is not a positive duration like 5m", v)
			return
		}
		q.Window = d
	}
	incidents := r.st.incidents(q)
	if incidents == nil {
		incidents = []globalview.Incident{}
	}
	writeJSON(w, map[string]any{"incidents": incidents})
}

// incidents groups every retained global outage (the grouping needs the
// outages before q.Since too) and keeps those q selects.
func (s *state) incidents(q globalview.IncidentQuery) []globalview.Incident {
	return globalview.Incidents(s.view.Outages("", "", time.Time{}, time.Time{}), q)
}
