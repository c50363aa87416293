package notify

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	deliveriesDesc = prometheus.NewDesc("vigil_notify_deliveries_total",
		"Webhook and e-mail deliveries by channel and result (success; retry: an attempt failed and will be repeated; "+
			"gave_up: max_attempts or max_age reached; dropped: pushed out of a full queue or refused for good).",
		[]string{"channel", "result"}, nil)
	pendingDesc = prometheus.NewDesc("vigil_notify_queue_pending",
		"Deliveries waiting in the persisted queue.", nil, nil)
	lastSuccessDesc = prometheus.NewDesc("vigil_notify_last_success_timestamp_seconds",
		"When a delivery through the channel last succeeded (0: never since the agent started).",
		[]string{"channel"}, nil)
)

var (
	channels = []string{ChannelEmail, ChannelWebhook}
	results  = []string{resultDropped, resultGaveUp, resultRetry, resultSuccess}
)

// metrics is the service's collector: counts by channel and result, every
// pair exported from the start (0), so that rate() sees the first one.
type metrics struct {
	s           *Service
	mu          sync.Mutex
	counts      map[[2]string]uint64
	lastSuccess map[string]time.Time
}

func newMetrics(s *Service) *metrics {
	return &metrics{s: s, counts: map[[2]string]uint64{}, lastSuccess: map[string]time.Time{}}
}

func (m *metrics) count(channel, result string) {
	m.mu.Lock()
	m.counts[[2]string{channel, result}]++
	m.mu.Unlock()
}

func (m *metrics) succeeded(channel string, at time.Time) {
	m.mu.Lock()
	m.lastSuccess[channel] = at
	m.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- deliveriesDesc
	ch <- pendingDesc
	ch <- lastSuccessDesc
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range channels {
		for _, r := range results {
			ch <- prometheus.MustNewConstMetric(deliveriesDesc, prometheus.CounterValue, float64(m.counts[[2]string{c, r}]), c, r)
		}
		var last float64
		if t, ok := m.lastSuccess[c]; ok {
			last = float64(t.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, last, c)
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(m.s.store.PendingCount()))
}
