package globalrole

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/vigil-monitoring/vigil/internal/globalview"
	"github.com/vigil-monitoring/vigil/internal/timerange"
)

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, args...)})
}

// features serves /api/v1/global/features: every feature's global state
// with its per-region states, the regions known, and whether the replay
// has caught up (until it has, the view may be behind).
func (r *Role) features(w http.ResponseWriter, _ *http.Request) {
	features, regions := r.st.view.Features(), r.st.view.Regions()
	if features == nil {
		features = []globalview.FeatureStatus{}
	}
	if regions == nil {
		regions = []string{}
	}
	writeJSON(w, map[string]any{"features": features, "regions": regions, "caught_up": r.Ready()})
}

// outages serves /api/v1/global/outages?service=&feature=&since=&until=,
// the times as the agent's API reads them (internal/timerange).
func (r *Role) outages(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	now := time.Now()
	since, err := timerange.Parse(q.Get("since"), timerange.Start, time.Time{}, now)
	if err != nil {
		badRequest(w, "since: %v", err)
		return
	}
	until, err := timerange.Parse(q.Get("until"), timerange.End, time.Time{}, now)
	if err != nil {
		badRequest(w, "until: %v", err)
		return
	}
	outages := r.st.view.Outages(q.Get("service"), q.Get("feature"), since, until)
	if outages == nil {
		outages = []globalview.Outage{}
	}
	writeJSON(w, map[string]any{"outages": outages})
}

// report serves /api/v1/global/report?from=&to= (default the last 30 days).
func (r *Role) report(w http.ResponseWriter, req *http.Request) {
	from, to, err := timerange.Range("from", req.URL.Query().Get("from"), "to", req.URL.Query().Get("to"), time.Now())
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	writeJSON(w, r.st.view.Report(from, to))
}
