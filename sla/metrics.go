package sla

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"weak"

	"github.com/vigil-monitoring/vigil/internal/expo"
)

// featureMetrics are one feature's label pairs, rendered on Configure so that
// a scrape only appends values.
type featureMetrics struct {
	labels expo.Labels // service, feature and the agent's labels
	info   expo.Labels // those, title and the metadata labels
}

var stateOrder = [...]State{StateUp, StateDegraded, StateRecovering, StateDown, StateMaintenance, StateUnknown}

func newFeatureMetrics(s FeatureSpec, schema, infoSchema *expo.Schema, sanitized, consts map[string]string) *featureMetrics {
	values := map[string]string{"service": s.Service, "feature": s.Feature, "title": s.Title}
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		if name := sanitized[k]; name != "" {
			if _, taken := values[name]; !taken {
				values[name] = s.Labels[k]
			}
		}
	}
	render := func(schema *expo.Schema) expo.Labels {
		vs := make([]string, 0, len(schema.Names()))
		for _, name := range schema.Names() {
			if v, ok := consts[name]; ok {
				vs = append(vs, v)
			} else {
				vs = append(vs, values[name])
			}
		}
		return expo.NewLabels(schema, vs...)
	}
	return &featureMetrics{labels: render(schema), info: render(infoSchema)}
}

// reservedLabels may not be taken by metadata labels: ours, and those the
// agent adds when wrapping the registerer.
var reservedLabels = map[string]bool{"service": true, "feature": true, "title": true, "state": true,
	"window": true, "region": true, "agent": true, "instance": true, "job": true}

// sanitizeLabel makes a metadata key a valid Prometheus label name that is
// not reserved.
func sanitizeLabel(key string, reserved map[string]bool) string {
	var b strings.Builder
	for i, r := range key {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	if name == "" || reserved[name] || strings.HasPrefix(name, "__") {
		name = "label_" + strings.TrimLeft(name, "_")
	}
	return name
}

// refreshMetricLabels recomputes the union of metadata label names and every
// configured feature's label pairs; call with e.mu held for writing.
func (e *Engine) refreshMetricLabels() {
	sanitized := map[string]string{}
	union := map[string]bool{}
	for _, f := range e.configured {
		for k := range f.spec.Labels {
			name := sanitizeLabel(k, e.reserved)
			sanitized[k] = name
			union[name] = true
		}
	}
	names := slices.Sorted(maps.Keys(union))
	base := append([]string{"service", "feature"}, slices.Collect(maps.Keys(e.constLabels))...)
	schema := expo.NewSchema(base...)
	infoSchema := expo.NewSchema(append(append(base, "title"), names...)...)
	for _, f := range e.configured {
		f.mu.Lock()
		f.metrics = newFeatureMetrics(f.spec, schema, infoSchema, sanitized, e.constLabels)
		f.mu.Unlock()
	}
}

// featureRow is one feature's figures at a scrape.
type featureRow struct {
	m         *featureMetrics
	objective float64
	n         numbers
}

// spareRows holds the last scrape's rows weakly, for the next scrape to
// reuse unless a GC has freed them since. 10,000 features are 2 MB of rows:
// pooled, they would stay on the heap between scrapes; made anew for every
// scrape, their garbage would bring the next GC sooner.
var spareRows struct {
	sync.Mutex
	rows weak.Pointer[[]featureRow]
}

// takeRows returns empty rows with room for n.
func takeRows(n int) *[]featureRow {
	spareRows.Lock()
	rows := spareRows.rows.Value()
	spareRows.rows = weak.Pointer[[]featureRow]{}
	spareRows.Unlock()
	if rows == nil || cap(*rows) < n {
		s := make([]featureRow, 0, n)
		return &s
	}
	*rows = (*rows)[:0]
	return rows
}

// keepRows makes rows the spare, held weakly.
func keepRows(rows *[]featureRow) {
	spareRows.Lock()
	spareRows.rows = weak.Make(rows)
	spareRows.Unlock()
}

// featureFamily is one feature-level family and how one feature writes it.
type featureFamily struct {
	expo.Family
	write func(w *expo.Writer, r *featureRow)
}

func featureGauge(name, help string, typ expo.Type, v func(r *featureRow) float64) featureFamily {
	return featureFamily{expo.Family{Name: name, Help: help, Type: typ}, func(w *expo.Writer, r *featureRow) {
		w.Sample(&r.m.labels, v(r))
	}}
}

// The extra labels of the state, availability and burn families, rendered once.
var (
	statePairs = func() (pairs [len(stateOrder)]expo.Pair) {
		for i, st := range stateOrder {
			pairs[i] = expo.NewPair("state", string(st))
		}
		return pairs
	}()
	availabilityPairs = func() (pairs [len(availabilityWindows) + 1]expo.Pair) {
		for i, win := range availabilityWindows {
			pairs[i] = expo.NewPair("window", win.name)
		}
		pairs[len(availabilityWindows)] = expo.NewPair("window", "slo")
		return pairs
	}()
	burnPairs = func() (pairs [len(burnWindows)]expo.Pair) {
		for i, win := range burnWindows {
			pairs[i] = expo.NewPair("window", win.name)
		}
		return pairs
	}()
)

// featureFamilies are written in this order, sorted by name.
var featureFamilies = []featureFamily{
	{expo.Family{Name: "vigil_feature_info", Help: "Feature metadata: title and the service's and feature's labels; always 1.", Type: expo.Gauge},
		func(w *expo.Writer, r *featureRow) { w.Sample(&r.m.info, 1) }},
	{expo.Family{Name: "vigil_feature_state", Help: "Feature state, one-hot over up, degraded, recovering, down, maintenance, unknown.", Type: expo.Gauge},
		func(w *expo.Writer, r *featureRow) {
			for i, st := range stateOrder {
				w.SampleWith(&r.m.labels, &statePairs[i], boolValue(r.n.state == st))
			}
		}},
	featureGauge("vigil_feature_up", "0 while the feature is down (an outage is open and not recovering), else 1.", expo.Gauge,
		func(r *featureRow) float64 { return boolValue(r.n.state != StateDown) }),
	featureGauge("vigil_outage_active", "1 while an outage is open.", expo.Gauge,
		func(r *featureRow) float64 { return boolValue(r.n.outageActive) }),
	featureGauge("vigil_outage_last_duration_seconds", "Duration of the current (so far) or last outage, 0 if none.", expo.Gauge,
		func(r *featureRow) float64 { return r.n.lastDuration }),
	featureGauge("vigil_outage_start_timestamp_seconds", "Start of the current or last outage, 0 if none.", expo.Gauge,
		func(r *featureRow) float64 { return r.n.outageStart }),
	featureGauge("vigil_outages_total", "Outages opened.", expo.Counter,
		func(r *featureRow) float64 { return float64(r.n.outages) }),
	{expo.Family{Name: "vigil_sla_availability_ratio", Help: "Availability over a rolling window: 1 - downtime / (window - maintenance - unmonitored).", Type: expo.Gauge},
		func(w *expo.Writer, r *featureRow) {
			for i := range availabilityPairs {
				w.SampleWith(&r.m.labels, &availabilityPairs[i], r.n.availability[i])
			}
		}},
	{expo.Family{Name: "vigil_sla_burn_rate", Help: "Error rate over a rolling window divided by the error budget rate (1 - objective).", Type: expo.Gauge},
		func(w *expo.Writer, r *featureRow) {
			for i := range burnPairs {
				w.SampleWith(&r.m.labels, &burnPairs[i], r.n.burn[i])
			}
		}},
	featureGauge("vigil_sla_degraded_seconds_total", "Time in state degraded (not downtime).", expo.Counter,
		func(r *featureRow) float64 { return r.n.degraded }),
	featureGauge("vigil_sla_downtime_seconds_total", "Downtime counted against the SLA: outages less maintenance and unmonitored time.", expo.Counter,
		func(r *featureRow) float64 { return r.n.downtime }),
	featureGauge("vigil_sla_error_budget_remaining_ratio", "Error budget left over the SLO window: 1 untouched, 0 spent, below 0 overspent.", expo.Gauge,
		func(r *featureRow) float64 { return r.n.budget }),
	featureGauge("vigil_sla_objective_ratio", "Availability objective of the feature, e.g. 0.999.", expo.Gauge,
		func(r *featureRow) float64 { return r.objective }),
	featureGauge("vigil_sla_unmonitored_seconds_total", "Time the feature was configured but the agent was not running.", expo.Counter,
		func(r *featureRow) float64 { return r.n.unmonitored }),
}

// WriteMetrics writes every configured feature's figures at now (expo.Source).
func (e *Engine) WriteMetrics(w *expo.Writer) { e.Stage()(w) }

// Stage computes every configured feature's figures at now and returns their
// writer (expo.Staged): the exposition computes them while it writes the
// per-check families.
func (e *Engine) Stage() func(w *expo.Writer) {
	now := e.nowNanos()
	e.mu.RLock()
	features, gaps := e.configured, e.gaps
	e.mu.RUnlock()
	rows := takeRows(len(features))
	var l ledger
	for _, f := range features {
		f.mu.Lock()
		if f.configured && f.metrics != nil {
			*rows = append(*rows, featureRow{m: f.metrics, objective: f.spec.Objective, n: f.numbers(now, gaps, &l)})
		}
		f.mu.Unlock()
	}
	return func(w *expo.Writer) {
		defer keepRows(rows)
		for i := range featureFamilies {
			fam := &featureFamilies[i]
			w.Family(&fam.Family)
			w.Each(len(*rows), func(w *expo.Writer, j int) { fam.write(w, &(*rows)[j]) })
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
