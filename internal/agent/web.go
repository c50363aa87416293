package agent

import (
	"net/http"
	"strings"

	"github.com/vigil-monitoring/vigil/internal/contract"
	"github.com/vigil-monitoring/vigil/internal/notify"
	"github.com/vigil-monitoring/vigil/internal/web"
	"github.com/vigil-monitoring/vigil/sla"
)

// WebOptions fills in what the web server takes from the agent beyond the
// Backend: the config's contracts, the write credentials (web block and
// webConfigFile's users), the communications endpoints, operators'
// updates and the maintenance declared at run time. A write credential
// that cannot be read is an error.
func (a *Agent) WebOptions(opts web.Options, webConfigFile string) (web.Options, error) {
	opts.Contracts = func() map[string]contract.Contract { return a.Config().Contracts() }
	wc := a.Config().Web
	auth, err := notify.NewWriteAuth(wc.WriteTokenFile, webConfigFile, wc.Writers)
	if err != nil {
		return opts, err
	}
	opts.AuthorizeWrite = auth.AuthorizeWrite
	opts.Maintenance = a.declaredMaintenance
	opts.ArtifactDir = a.ArtifactDir()
	if svc := a.notify; svc != nil {
		opts.Mount = func(mux *http.ServeMux) { svc.Routes(mux, auth) }
		opts.Updates = func(inc sla.Incident) []web.IncidentUpdate {
			updates, _ := svc.Store().UpdatesFor(inc.ID, outageRefs(inc))
			return webUpdates(updates)
		}
		opts.ManualIncidents = func() []web.ManualIncident {
			var out []web.ManualIncident
			for _, m := range svc.Store().ManualIncidents() {
				wm := web.ManualIncident{ID: m.ID, Title: m.Title, Status: string(m.Status), Start: m.Start, End: m.End,
					Affected: []string{}, Updates: webUpdates(m.Updates)}
				for _, a := range m.Affected {
					wm.Affected = append(wm.Affected, strings.TrimSuffix(a.Service+"/"+a.Feature, "/"))
				}
				out = append(out, wm)
			}
			return out
		}
	}
	return opts, nil
}

// declaredMaintenance are the windows declared at run time under way or
// ahead, one per feature they select, for the page and the feed.
func (a *Agent) declaredMaintenance() []web.MaintenanceWindow {
	now := a.now()
	var out []web.MaintenanceWindow
	for _, w := range a.maint.List(now) {
		if !w.End.After(now) {
			continue
		}
		for _, key := range w.Features {
			service, feature := splitFeatureKey(key)
			out = append(out, web.MaintenanceWindow{ID: w.ID, Service: service, Feature: feature, Start: w.Start, End: w.End,
				Reason: w.Reason})
		}
	}
	return out
}

func webUpdates(updates []notify.Update) []web.IncidentUpdate {
	out := make([]web.IncidentUpdate, len(updates))
	for i, u := range updates {
		out[i] = web.IncidentUpdate{Time: u.At, Status: string(u.Status), Message: u.Message, Author: u.Author}
	}
	return out
}
