package agent

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/internal/delivery"
	"github.com/vigil-monitoring/vigil/internal/maintenance"
	"github.com/vigil-monitoring/vigil/internal/notify"
	"github.com/vigil-monitoring/vigil/sla"
)

// Communications (issue 20): the agent keeps internal/notify's store
// (comms.db beside the SLA store: operators' updates, manual incidents,
// subscribers, the delivery queue) and runs its delivery loop. A duty,
// "notify-watch", turns what the engine and the maintenance book say into
// events: an incident opened or resolved, a declared window scheduled,
// started or ended. What it has announced is kept in memory: after a
// restart the incidents and windows then open are taken as announced.
// Without a storage path there is no comms store: write endpoints of
// notify and subscriptions are off.

// notifyWatchInterval is how often the watcher compares.
const notifyWatchInterval = 10 * time.Second

// startNotify opens the comms store, starts the delivery loop and the
// watcher.
func (a *Agent) startNotify(cfg *config.Config, reg prometheus.Registerer) error {
	if a.opts.StoragePath == "" {
		return nil
	}
	opts, err := notify.FromConfig(cfg.Notify)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.File, err)
	}
	store, err := notify.Open(filepath.Join(a.opts.StoragePath, notify.FileName), notify.StoreOptions{})
	if err != nil {
		return err
	}
	opts.Store, opts.Logger, opts.Registerer = store, a.logger, reg
	opts.Incidents = a.incidentInfo
	opts.Known = a.knownFeature
	svc, err := notify.New(opts)
	if err != nil {
		store.Close()
		return fmt.Errorf("%s: %w", cfg.File, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.Run(ctx)
	}()
	if opts.SMTP != nil {
		a.mailReport = func(ctx context.Context, to, subject string, body []byte, contentType string, job delivery.Job) error {
			return svc.SendReport(ctx, to, subject, notify.ReportFileName(job.Schedule.Name, job.Period.Key, job.Schedule.Format),
				contentType, body)
		}
	}
	a.notify, a.notifyStop = svc, func() {
		cancel()
		<-done
		store.Close()
	}
	w := &notifyWatcher{a: a, incidents: map[string]bool{}, windows: map[string]windowPhase{}}
	w.check(true) // what is open now was announced before (or never will be)
	return a.sched.Every("notify-watch", cmp.Or(a.opts.NotifyWatchInterval, notifyWatchInterval), func(context.Context) { w.check(false) })
}

// Notify is the communications service; nil without a storage path.
func (a *Agent) Notify() *notify.Service { return a.notify }

func (a *Agent) stopNotify() {
	if a.notifyStop != nil {
		a.notifyStop()
	}
}

// incidentInfo finds a grouped incident by id, else the one holding any of
// outages (the incident an id named before it grew), for updates to it.
func (a *Agent) incidentInfo(id string, outages []notify.OutageRef) (notify.IncidentInfo, bool) {
	incidents := a.engine.Incidents(sla.IncidentQuery{})
	for _, inc := range incidents {
		if inc.ID == id {
			return incidentEvent(inc), true
		}
	}
	for _, inc := range incidents {
		for _, o := range outageRefs(inc) {
			if slices.Contains(outages, o) {
				return incidentEvent(inc), true
			}
		}
	}
	return notify.IncidentInfo{}, false
}

// outageRefs names an incident's features' outages.
func outageRefs(inc sla.Incident) []notify.OutageRef {
	out := make([]notify.OutageRef, len(inc.Features))
	for i, f := range inc.Features {
		out[i] = notify.OutageRef{Service: f.Service, Feature: f.Feature, Outage: f.OutageID}
	}
	return out
}

func incidentEvent(inc sla.Incident) notify.IncidentInfo {
	info := notify.IncidentInfo{ID: inc.ID, Title: inc.Title, Start: inc.Start, End: inc.End, State: "down",
		Outages: outageRefs(inc)}
	if inc.End != nil {
		info.State = "resolved"
	}
	for _, f := range inc.Features {
		info.Affected = append(info.Affected, notify.FeatureRef{Service: f.Service, Feature: f.Feature})
	}
	return info
}

// knownFeature reports whether the running config has the service (feature
// "") or feature.
func (a *Agent) knownFeature(service, feature string) bool {
	for _, t := range a.MaintenanceTargets() {
		if t.Service == service && (feature == "" || t.Feature == feature) {
			return true
		}
	}
	return false
}

// windowPhase is what the watcher announced of a declared window.
type windowPhase uint8

const (
	phaseScheduled windowPhase = iota + 1
	phaseStarted
	phaseEnded
)

// notifyWatcher compares the engine's incidents and the book's windows
// with what it announced, and publishes the differences.
type notifyWatcher struct {
	a         *Agent
	incidents map[string]bool             // id → its resolution was announced
	outages   map[notify.OutageRef]string // the incident id each outage was last seen in
	windows   map[string]windowPhase
}

func (w *notifyWatcher) check(quiet bool) {
	publish := func(e notify.Event) {
		if quiet {
			return
		}
		if err := w.a.notify.Publish(e); err != nil {
			w.a.logger.Error("notify: event not recorded", "type", e.Type, "err", err)
		}
	}
	now := w.a.now()
	seen := map[string]bool{}
	held := map[notify.OutageRef]string{}
	for _, inc := range w.a.engine.Incidents(sla.IncidentQuery{Since: now.Add(-notifyWatchInterval * 30)}) {
		seen[inc.ID] = true
		announced, known := w.incidents[inc.ID]
		info := incidentEvent(inc)
		for _, o := range info.Outages {
			held[o] = inc.ID
			// An incident whose id changed as it grew was announced
			// under its old id: it is not a new one.
			if old, ok := w.outages[o]; !known && ok && old != inc.ID {
				announced, known = w.incidents[old]
			}
		}
		if !known {
			publish(notify.Event{Type: notify.IncidentOpened, Incident: &info})
		}
		if !inc.Active() && (!known || !announced) {
			publish(notify.Event{Type: notify.IncidentResolved, Incident: &info})
		}
		w.incidents[inc.ID] = !inc.Active()
	}
	for id := range w.incidents {
		if !seen[id] {
			delete(w.incidents, id)
		}
	}
	w.outages = held
	list := w.a.maint.List(now)
	present := map[string]bool{}
	for _, win := range list {
		present[win.ID] = true
		phase := phaseScheduled
		switch {
		case !now.Before(win.End):
			phase = phaseEnded
		case win.ActiveAt(now):
			phase = phaseStarted
		}
		if prev := w.windows[win.ID]; prev < phase {
			if prev == 0 && phase == phaseEnded {
				w.windows[win.ID] = phase // ended before it was ever seen
				continue
			}
			types := map[windowPhase]notify.EventType{phaseScheduled: notify.MaintenanceScheduled,
				phaseStarted: notify.MaintenanceStarted, phaseEnded: notify.MaintenanceEnded}
			publish(notify.Event{Type: types[phase], Maintenance: maintenanceEvent(win)})
			w.windows[win.ID] = phase
		}
	}
	for id, phase := range w.windows { // called off before it began
		if !present[id] {
			if phase == phaseScheduled {
				publish(notify.Event{Type: notify.MaintenanceEnded, Maintenance: &notify.MaintenanceInfo{ID: id,
					Reason: "called off", Affected: []notify.FeatureRef{}, Start: now, End: now}})
			}
			delete(w.windows, id)
		}
	}
}

func maintenanceEvent(win maintenance.Window) *notify.MaintenanceInfo {
	info := &notify.MaintenanceInfo{ID: win.ID, Mode: string(win.Mode), Selector: maintenance.FormatSelector(win.Selector),
		Reason: win.Reason, Author: win.Author, Start: win.Start, End: win.End}
	for _, key := range win.Features {
		service, feature := splitFeatureKey(key)
		info.Affected = append(info.Affected, notify.FeatureRef{Service: service, Feature: feature})
	}
	return info
}

func splitFeatureKey(key string) (string, string) {
	service, feature, _ := strings.Cut(key, "/")
	return service, feature
}
