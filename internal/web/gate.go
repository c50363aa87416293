package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"

	"github.com/vigil-monitoring/vigil/sla"
)

// gateNameRe is what a service or feature name may be (config's names).
var gateNameRe = regexp.MustCompile(`^[a-z0-9_-]+$`)

// gateParams are the query parameters GET /api/v1/gate takes.
var gateParams = map[string]bool{"service": true, "feature": true}

// gateResponse is GET /api/v1/gate's body: allow is true only when every
// feature's gate allows; reasons are theirs, each prefixed with
// service/feature.
type gateResponse struct {
	Allow    bool               `json:"allow"`
	Service  string             `json:"service"`
	Feature  string             `json:"feature,omitempty"`
	Reasons  []string           `json:"reasons"`
	Features []sla.GateDecision `json:"features"`
}

// gate is GET /api/v1/gate?service=&feature=: a deploy pipeline's one call.
// 200 when the error-budget gate of every feature asked for (one, or all of
// the service's) allows, 423 Locked with the reasons when one does not, 400
// naming the parameter for a bad request, 404 for an unknown service or
// feature.
func (s *Server) gate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if field, msg := badGateQuery(q); field != "" {
		badRequest(w, "%s: %s", field, msg)
		return
	}
	service, feature := q.Get("service"), q.Get("feature")
	decisions, err := s.backend.Engine().Gate(service, feature)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		field := "service"
		if errors.Is(err, sla.ErrUnknownFeature) {
			field = "feature"
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"error": field + ": " + err.Error()})
		return
	}
	resp := gateResponse{Allow: true, Service: service, Feature: feature, Reasons: []string{}, Features: decisions}
	for _, d := range decisions {
		if !d.Allow {
			resp.Allow = false
		}
		for _, reason := range d.Reasons {
			resp.Reasons = append(resp.Reasons, d.Service+"/"+d.Feature+": "+reason)
		}
	}
	if !resp.Allow {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusLocked)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(resp)
		return
	}
	writeJSON(w, resp)
}

// badGateQuery returns the parameter at fault and why, or "" when q is a
// good gate query.
func badGateQuery(q url.Values) (field, msg string) {
	for k := range q {
		if !gateParams[k] {
			return k, "unknown parameter (the gate takes service and feature)"
		}
		if len(q[k]) > 1 {
			return k, "given more than once"
		}
	}
	switch service, feature := q.Get("service"), q.Get("feature"); {
	case service == "":
		return "service", "required"
	case !gateNameRe.MatchString(service):
		return "service", "not a service name ([a-z0-9_-]+)"
	case q.Has("feature") && !gateNameRe.MatchString(feature):
		return "feature", "not a feature name ([a-z0-9_-]+); leave it out for every feature of the service"
	}
	return "", ""
}
