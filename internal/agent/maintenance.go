package agent

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/internal/maintenance"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/sla"
)

// Runtime maintenance (issue 20): windows declared over the API are kept in
// a maintenance.Book beside the store. An exclude window is added to its
// features' SLA maintenance (so the engine does what config maintenance
// does, from when it is declared); a pause window stops the probes of its
// features, each skipped run telling the engine the check is blind (its
// time unmonitored); a mute window changes nothing but
// vigil_feature_maintenance{mode}.

// maintenanceFile is the book's name under the storage path.
const maintenanceFile = "maintenance.json"

func openMaintenance(storagePath string) (*maintenance.Book, error) {
	if storagePath == "" {
		return maintenance.Open("")
	}
	return maintenance.Open(filepath.Join(storagePath, maintenanceFile))
}

// Maintenance is the book of runtime maintenance windows.
func (a *Agent) Maintenance() *maintenance.Book { return a.maint }

// MaintenanceTargets are the features of the running config as selectors
// see them.
func (a *Agent) MaintenanceTargets() []maintenance.Target {
	cfg := a.cfg.Load()
	if cfg == nil {
		return nil
	}
	var out []maintenance.Target
	for si := range cfg.Services {
		s := &cfg.Services[si]
		for fi := range s.Features {
			out = append(out, targetOf(s, &s.Features[fi]))
		}
	}
	return out
}

// MaintenanceChanged applies the book to the SLA engine after a window was
// declared or ended: the running config is configured again with the
// book's exclude windows.
func (a *Agent) MaintenanceChanged() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applyLocked(a.cfg.Load())
}

// targetOf is what maintenance windows select a check's runs by; every
// check's prober holds one, so with no labels the map stays nil (an empty
// one takes 48 bytes).
func targetOf(s *config.Service, f *config.Feature) maintenance.Target {
	var labels map[string]string
	if n := len(s.Labels) + len(f.Labels); n > 0 {
		labels = make(map[string]string, n)
	}
	for k, v := range s.Labels {
		labels[k] = v
	}
	for k, v := range f.Labels {
		labels[k] = v
	}
	return maintenance.Target{Service: s.Name, Feature: f.Name, Labels: labels}
}

// addRuntimeMaintenance adds the book's exclude windows not yet ended to the
// specs of the features they select.
func (a *Agent) addRuntimeMaintenance(specs []sla.FeatureSpec, now time.Time) {
	for i := range specs {
		s := &specs[i]
		t := maintenance.Target{Service: s.Service, Feature: s.Feature, Labels: s.Labels}
		for _, w := range a.maint.Windows(t, maintenance.ModeExclude, now) {
			s.Maintenance = append(s.Maintenance, sla.Maintenance{Start: w.Start, Duration: w.End.Sub(w.Start)})
		}
	}
}

// pausedError is a run skipped because a pause window covers its feature.
type pausedError struct{ id string }

func (e *pausedError) Error() string { return "paused by maintenance " + e.id }

// pausable skips its prober's runs while a pause window selects its feature.
type pausable struct {
	probes.Prober
	a      *Agent
	target maintenance.Target
}

func (p *pausable) Probe(ctx context.Context) *probes.Result {
	if !p.a.maint.HasPauses() { // the usual case: nothing to look up
		return p.Prober.Probe(ctx)
	}
	now := p.a.now()
	if w := p.a.maint.Active(p.target, maintenance.ModePause, now); len(w) > 0 {
		return &probes.Result{Start: now, Err: &pausedError{w[0].ID}}
	}
	return p.Prober.Probe(ctx)
}

// Close closes the wrapped prober when it holds resources.
func (p *pausable) Close() error {
	if c, ok := p.Prober.(probes.Closer); ok {
		return c.Close()
	}
	return nil
}

// paused reports the window's id when r is a run a pause window skipped.
func paused(r *probes.Result) (string, bool) {
	if r.Err == nil { // a passing run: errors.As would cost an allocation
		return "", false
	}
	if pe, ok := errors.AsType[*pausedError](r.Err); ok {
		return pe.id, true
	}
	return "", false
}

func (a *Agent) now() time.Time {
	if a.opts.Clock != nil {
		return a.opts.Clock.Now()
	}
	return time.Now()
}

// maintenanceCollector exports vigil_feature_maintenance{service, feature,
// mode} = 1 for each feature a runtime window selects now (none otherwise),
// so that alert rules can stay quiet for muted features.
type maintenanceCollector struct {
	a    *Agent
	desc *prometheus.Desc
}

func newMaintenanceCollector(a *Agent) *maintenanceCollector {
	return &maintenanceCollector{a: a, desc: prometheus.NewDesc("vigil_feature_maintenance",
		"1 while a maintenance window declared at run time (POST /api/v1/maintenance) selects the feature, by mode: "+
			"exclude (out of the SLA), mute (counted, alerts quiet) or pause (not probed).",
		[]string{"service", "feature", "mode"}, nil)}
}

func (c *maintenanceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *maintenanceCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.a.now()
	windows := c.a.maint.List(now)
	active := windows[:0]
	for _, w := range windows {
		if w.ActiveAt(now) {
			active = append(active, w)
		}
	}
	if len(active) == 0 {
		return
	}
	for _, t := range c.a.MaintenanceTargets() {
		seen := map[maintenance.Mode]bool{}
		for i := range active {
			if w := &active[i]; !seen[w.Mode] && w.Matches(t) {
				seen[w.Mode] = true
				ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 1, t.Service, t.Feature, string(w.Mode))
			}
		}
	}
}
