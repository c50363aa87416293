package global

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	pendingDesc = prometheus.NewDesc("vigil_global_outbox_pending",
		"Records in the agent's outbox not yet acknowledged by the JetStream stream.", nil, nil)
	publishedDesc = prometheus.NewDesc("vigil_global_published_total",
		"Records published to the JetStream stream, by result (ok: acknowledged; error: failed, to be published again).",
		[]string{"result"}, nil)
	lastSuccessDesc = prometheus.NewDesc("vigil_global_last_publish_success_timestamp_seconds",
		"When the stream last acknowledged a record (0: never since the agent started).", nil, nil)
)

// Describe implements prometheus.Collector.
func (p *Publisher) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- publishedDesc
	ch <- lastSuccessDesc
}

// Collect implements prometheus.Collector. The pending count is left out
// while the outbox cannot be read (the engine closing).
func (p *Publisher) Collect(ch chan<- prometheus.Metric) {
	if n := p.pending(); n >= 0 {
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(n))
	}
	ch <- prometheus.MustNewConstMetric(publishedDesc, prometheus.CounterValue, float64(p.published.Load()), "ok")
	ch <- prometheus.MustNewConstMetric(publishedDesc, prometheus.CounterValue, float64(p.failed.Load()), "error")
	var last float64
	if ns := p.lastSuccess.Load(); ns != 0 {
		last = float64(ns) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, last)
}
