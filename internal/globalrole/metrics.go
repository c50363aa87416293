package globalrole

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/internal/globalview"
)

// featureStates and regionStates are the one-hot sets of
// vigil_global_feature_state and vigil_global_region_state.
var (
	featureStates = []string{globalview.StateUp, globalview.StateRegional, globalview.StateDegraded,
		globalview.StateDown, globalview.StateMaintenance, globalview.StateUnknown}
	regionStates = []string{globalview.StateUp, globalview.StateDegraded, globalview.StateDown, globalview.StateMaintenance,
		globalview.StateUnknown}
)

var (
	sf           = []string{"service", "feature"}
	featureState = prometheus.NewDesc("vigil_global_feature_state",
		"Global state of the feature by consensus of the regions, one-hot (regional: down from fewer regions than required).",
		append(sf, "state"), nil)
	featureUp = prometheus.NewDesc("vigil_global_feature_up",
		"0 while the feature is down by consensus of the regions, else 1.", sf, nil)
	regionsDown = prometheus.NewDesc("vigil_global_feature_regions_down",
		"Monitoring regions that see the feature down.", sf, nil)
	regionState = prometheus.NewDesc("vigil_global_region_state",
		"State of the feature as seen from a region (its replicas merged), one-hot; unknown while the region does not monitor it.",
		append(sf, "region", "state"), nil)
	availability = prometheus.NewDesc("vigil_global_sla_availability_ratio",
		"Global availability of the feature over the window (down by consensus counts against it).",
		append(sf, "window"), nil)
	budget = prometheus.NewDesc("vigil_global_sla_error_budget_remaining_ratio",
		"Global error budget left over 30 days: 1 untouched, 0 spent, below 0 overspent.", sf, nil)
	objective = prometheus.NewDesc("vigil_global_sla_objective_ratio",
		"Global objective of the feature, e.g. 0.999.", sf, nil)
	outageActive = prometheus.NewDesc("vigil_global_outage_active",
		"1 while a global outage of the feature is open.", sf, nil)
	incidentsActive = prometheus.NewDesc("vigil_global_incidents_active",
		"Global incidents (global outages of 2 or more features starting within 5m, grouped by service first) with an open outage.",
		nil, nil)
	heartbeat = prometheus.NewDesc("vigil_global_agent_last_heartbeat_timestamp_seconds",
		"Time of the last heartbeat an agent published.", []string{"region", "agent"}, nil)
	clockSkew = prometheus.NewDesc("vigil_global_agent_clock_skew_seconds",
		"For an agent whose newest record's time is further than max_clock_skew from this role's clock: how far (positive: ahead). Its records are taken with their times.",
		[]string{"agent"}, nil)
	ingested = prometheus.NewDesc("vigil_global_records_ingested_total",
		"Records read from the stream and taken into the view.", nil, nil)
	rejected = prometheus.NewDesc("vigil_global_records_rejected_total",
		"Records read from the stream and skipped, by reason (malformed, version, type, missing, duplicate).",
		[]string{"reason"}, nil)
	caughtUp = prometheus.NewDesc("vigil_global_replay_caught_up",
		"1 once the replay of the stream reached the records that were in it at start (also /-/ready).", nil, nil)
	streamSeq = prometheus.NewDesc("vigil_global_stream_last_sequence",
		"Stream sequence of the last record read.", nil, nil)
)

// collector is the view's series, computed at each scrape.
type collector struct {
	st *state
	c  *consumer
}

// Describe implements prometheus.Collector.
func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{featureState, featureUp, regionsDown, regionState, availability, budget,
		objective, outageActive, incidentsActive, heartbeat, clockSkew, ingested, rejected, caughtUp, streamSeq} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.st.view.Features() {
		collectFeature(ch, f)
	}
	ch <- prometheus.MustNewConstMetric(incidentsActive, prometheus.GaugeValue,
		float64(len(c.st.incidents(globalview.IncidentQuery{Active: true}))))
	for k, t := range c.st.lastHeartbeats() {
		ch <- prometheus.MustNewConstMetric(heartbeat, prometheus.GaugeValue, t, k.region, k.agent)
	}
	for agent, d := range c.st.view.Flagged() {
		ch <- prometheus.MustNewConstMetric(clockSkew, prometheus.GaugeValue, d.Seconds(), agent)
	}
	ch <- prometheus.MustNewConstMetric(ingested, prometheus.CounterValue, float64(c.st.ingested.Load()))
	c.st.rejected.Range(func(k, v any) bool {
		ch <- prometheus.MustNewConstMetric(rejected, prometheus.CounterValue, float64(v.(*atomic.Uint64).Load()), k.(string))
		return true
	})
	ch <- prometheus.MustNewConstMetric(caughtUp, prometheus.GaugeValue, b2f(c.c.caughtUp.Load()))
	ch <- prometheus.MustNewConstMetric(streamSeq, prometheus.GaugeValue, float64(c.c.lastSeq.Load()))
}

func collectFeature(ch chan<- prometheus.Metric, f globalview.FeatureStatus) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{f.Service, f.Feature}, labels...)...)
	}
	for _, s := range featureStates {
		gauge(featureState, b2f(f.State == s), s)
	}
	gauge(featureUp, b2f(f.State != globalview.StateDown))
	gauge(regionsDown, float64(len(f.RegionsDown)))
	for _, r := range f.Regions {
		for _, s := range regionStates {
			gauge(regionState, b2f(r.State == s), r.Region, s)
		}
	}
	for _, w := range []struct {
		name string
		v    float64
	}{{"1h", f.Availability.Hour}, {"24h", f.Availability.Day}, {"7d", f.Availability.Week}, {"30d", f.Availability.Month}} {
		gauge(availability, w.v, w.name)
	}
	gauge(budget, f.BudgetRemaining)
	gauge(objective, f.Objective)
	gauge(outageActive, b2f(f.Outage != nil && f.Outage.End == nil))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
