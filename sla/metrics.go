package sla

import (
	"maps"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/vigil-monitoring/vigil/internal/constmetric"
)

// metricDescs are the engine's descriptors, built once; only the info
// descriptor changes, when the set of metadata label names does.
type metricDescs struct {
	state, up, info, objective, availability, budget, burn        *prometheus.Desc
	downtime, degraded, unmonitored, outages, active, start, last *prometheus.Desc
}

var featureLabels = []string{"service", "feature"}

func newMetricDescs(infoLabels []string, constLabels map[string]string) *metricDescs {
	d := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append(slices.Clone(featureLabels), extra...), constLabels)
	}
	return &metricDescs{
		state:        d("vigil_feature_state", "Feature state, one-hot over up, degraded, recovering, down, maintenance, unknown.", "state"),
		up:           d("vigil_feature_up", "0 while the feature is down (an outage is open and not recovering), else 1."),
		info:         d("vigil_feature_info", "Feature metadata: title and the service's and feature's labels; always 1.", append([]string{"title"}, infoLabels...)...),
		objective:    d("vigil_sla_objective_ratio", "Availability objective of the feature, e.g. 0.999."),
		availability: d("vigil_sla_availability_ratio", "Availability over a rolling window: 1 - downtime / (window - maintenance - unmonitored).", "window"),
		budget:       d("vigil_sla_error_budget_remaining_ratio", "Error budget left over the SLO window: 1 untouched, 0 spent, below 0 overspent."),
		burn:         d("vigil_sla_burn_rate", "Error rate over a rolling window divided by the error budget rate (1 - objective).", "window"),
		downtime:     d("vigil_sla_downtime_seconds_total", "Downtime counted against the SLA: outages less maintenance and unmonitored time."),
		degraded:     d("vigil_sla_degraded_seconds_total", "Time in state degraded (not downtime)."),
		unmonitored:  d("vigil_sla_unmonitored_seconds_total", "Time the feature was configured but the agent was not running."),
		outages:      d("vigil_outages_total", "Outages opened."),
		active:       d("vigil_outage_active", "1 while an outage is open."),
		start:        d("vigil_outage_start_timestamp_seconds", "Start of the current or last outage, 0 if none."),
		last:         d("vigil_outage_last_duration_seconds", "Duration of the current (so far) or last outage, 0 if none."),
	}
}

// featureMetrics are one feature's label pairs, built on Configure so that
// a scrape only fills in values.
type featureMetrics struct {
	base         []*dto.LabelPair
	states       [len(stateOrder)][]*dto.LabelPair
	availability [len(availabilityWindows) + 1][]*dto.LabelPair
	burn         [len(burnWindows)][]*dto.LabelPair
	info         []*dto.LabelPair
}

var stateOrder = [...]State{StateUp, StateDegraded, StateRecovering, StateDown, StateMaintenance, StateUnknown}

// labelPairs returns sorted pairs, its capacity equal to its length: a
// wrapping registerer appends its labels, which must copy, not write into
// the shared array.
func labelPairs(kv ...string) []*dto.LabelPair {
	pairs := make([]*dto.LabelPair, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, &dto.LabelPair{Name: proto.String(kv[i]), Value: proto.String(kv[i+1])})
	}
	slices.SortFunc(pairs, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
	return slices.Clip(pairs)
}

// sharedPairs are the label pairs every feature has alike, allocated once:
// with 10,000 features, per-feature copies would dominate the heap.
var sharedPairs = func() map[string]*dto.LabelPair {
	m := map[string]*dto.LabelPair{}
	for _, st := range stateOrder {
		m["state="+string(st)] = &dto.LabelPair{Name: proto.String("state"), Value: proto.String(string(st))}
	}
	for _, w := range availabilityWindows {
		m["window="+w.name] = &dto.LabelPair{Name: proto.String("window"), Value: proto.String(w.name)}
	}
	for _, w := range burnWindows {
		m["window="+w.name] = &dto.LabelPair{Name: proto.String("window"), Value: proto.String(w.name)}
	}
	m["window=slo"] = &dto.LabelPair{Name: proto.String("window"), Value: proto.String("slo")}
	return m
}()

func newFeatureMetrics(s FeatureSpec, infoLabels []string, sanitized map[string]string, constPairs []*dto.LabelPair) *featureMetrics {
	service := &dto.LabelPair{Name: proto.String("service"), Value: proto.String(s.Service)}
	feature := &dto.LabelPair{Name: proto.String("feature"), Value: proto.String(s.Feature)}
	sorted := func(pairs ...*dto.LabelPair) []*dto.LabelPair {
		pairs = append(pairs, constPairs...)
		slices.SortFunc(pairs, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
		return slices.Clip(pairs)
	}
	with := func(extra string) []*dto.LabelPair { return sorted(feature, service, sharedPairs[extra]) }
	m := &featureMetrics{base: sorted(feature, service)}
	for i, st := range stateOrder {
		m.states[i] = with("state=" + string(st))
	}
	for i, w := range availabilityWindows {
		m.availability[i] = with("window=" + w.name)
	}
	m.availability[len(availabilityWindows)] = with("window=slo")
	for i, w := range burnWindows {
		m.burn[i] = with("window=" + w.name)
	}
	values := make(map[string]string, len(infoLabels))
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		if name := sanitized[k]; name != "" {
			if _, taken := values[name]; !taken {
				values[name] = s.Labels[k]
			}
		}
	}
	kv := []string{"title", s.Title}
	for _, name := range infoLabels {
		kv = append(kv, name, values[name])
	}
	m.info = sorted(append(labelPairs(kv...), feature, service)...)
	return m
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
	e.infoLabels = names
	e.metrics = newMetricDescs(names, e.constLabels)
	var constPairs []*dto.LabelPair
	for _, k := range slices.Sorted(maps.Keys(e.constLabels)) {
		constPairs = append(constPairs, &dto.LabelPair{Name: proto.String(k), Value: proto.String(e.constLabels[k])})
	}
	for _, f := range e.configured {
		f.mu.Lock()
		f.metrics = newFeatureMetrics(f.spec, names, sanitized, constPairs)
		f.mu.Unlock()
	}
}

// Collector returns the engine's Prometheus collector: feature-level metrics
// of every configured feature, labelled service and feature.
func (e *Engine) Collector() prometheus.Collector { return collector{e} }

type collector struct{ e *Engine }

// Describe sends the current descriptors.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	c.e.mu.RLock()
	d := c.e.metrics
	c.e.mu.RUnlock()
	for _, desc := range []*prometheus.Desc{d.state, d.up, d.info, d.objective, d.availability, d.budget,
		d.burn, d.downtime, d.degraded, d.unmonitored, d.outages, d.active, d.start, d.last} {
		ch <- desc
	}
}

// metricsPerFeature is how many series one feature exports.
const metricsPerFeature = len(stateOrder) + 4 + len(availabilityWindows) + 1 + len(burnWindows) + 7

// Collect computes every configured feature's figures at now.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	e := c.e
	now := e.nowNanos()
	e.mu.RLock()
	features, gaps, d := e.configured, e.gaps, e.metrics
	e.mu.RUnlock()
	var l ledger
	for _, f := range features {
		f.mu.Lock()
		if !f.configured || f.metrics == nil {
			f.mu.Unlock()
			continue
		}
		n := f.numbers(now, gaps, &l)
		fm, objective := f.metrics, f.spec.Objective
		f.mu.Unlock()

		ms := make([]constmetric.Sample, 0, metricsPerFeature)
		gauge := func(desc *prometheus.Desc, labels []*dto.LabelPair, v float64) {
			ms = append(ms, constmetric.Sample{Descriptor: desc, Labels: labels, Value: v})
		}
		counter := func(desc *prometheus.Desc, v float64) {
			ms = append(ms, constmetric.Sample{Descriptor: desc, Labels: fm.base, Value: v, Counter: true})
		}
		for i, st := range stateOrder {
			gauge(d.state, fm.states[i], boolValue(n.state == st))
		}
		gauge(d.up, fm.base, boolValue(n.state != StateDown))
		gauge(d.info, fm.info, 1)
		gauge(d.objective, fm.base, objective)
		for i, v := range n.availability {
			gauge(d.availability, fm.availability[i], v)
		}
		gauge(d.budget, fm.base, n.budget)
		for i, v := range n.burn {
			gauge(d.burn, fm.burn[i], v)
		}
		counter(d.downtime, n.downtime)
		counter(d.degraded, n.degraded)
		counter(d.unmonitored, n.unmonitored)
		counter(d.outages, float64(n.outages))
		gauge(d.active, fm.base, boolValue(n.outageActive))
		gauge(d.start, fm.base, n.outageStart)
		gauge(d.last, fm.base, n.lastDuration)
		for i := range ms {
			ch <- &ms[i]
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
