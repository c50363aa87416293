package export

import (
	"maps"
	"math"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/vigil-monitoring/vigil/internal/constmetric"
	"github.com/vigil-monitoring/vigil/probes"
)

// Build information, set by the linker (-X) or read from the module.
var (
	Version  = "dev"
	Revision = ""
)

// Metrics holds the probe-level and agent series. The per-check families are
// one collector over compact per-check values with label pairs built once per
// check: client_golang's vectors cost about 12 KiB per check in children and
// label pairs, and most of a scrape's garbage at 10,000 checks.
type Metrics struct {
	d      *checkDescs
	consts []*dto.LabelPair

	mu     sync.Mutex
	checks map[string]*CheckMetrics

	// Agent series.
	ReloadSuccess    prometheus.Gauge
	ReloadTimestamp  prometheus.Gauge
	ChecksConfigured prometheus.Gauge
	InFlight         prometheus.Gauge
	Lateness         prometheus.Histogram
}

var checkLabels = []string{"service", "feature", "check", "kind"}

var (
	durationBuckets  = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	roundtripBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
)

// checkDescs are the per-check families' descriptors.
type checkDescs struct {
	up, runs, duration, phase, lastRun, interval, timeout                  *prometheus.Desc
	httpStatus, httpVersion, httpLength, httpRedirects, certExpiry         *prometheus.Desc
	dnsAnswer, dnsAuthority, dnsAdditional, dnsSerial                      *prometheus.Desc
	msgSent, msgReceived, msgLost, msgDup, msgReordered, msgCorrupted, rtt *prometheus.Desc
}

func newCheckDescs(constLabels prometheus.Labels) *checkDescs {
	d := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, append(slices.Clone(checkLabels), extra...), constLabels)
	}
	return &checkDescs{
		up:            d("vigil_check_up", "1 if the check's last run passed, 0 if it failed."),
		runs:          d("vigil_check_runs_total", "Check runs by result (success, failure, timeout).", "result"),
		duration:      d("vigil_check_duration_seconds", "Duration of whole check runs."),
		phase:         d("vigil_check_phase_duration_seconds", "Duration of each phase of the check's last run.", "phase"),
		lastRun:       d("vigil_check_last_run_timestamp_seconds", "Start time of the check's last run (Unix seconds)."),
		interval:      d("vigil_check_interval_seconds", "How often the check is scheduled to run."),
		timeout:       d("vigil_check_timeout_seconds", "How long one run of the check may take."),
		httpStatus:    d("vigil_http_status_code", "HTTP status code of the last run's final response (0 if none)."),
		httpVersion:   d("vigil_http_version", "HTTP version of the last run's final response, e.g. 1.1 or 2."),
		httpLength:    d("vigil_http_content_length_bytes", "Body bytes read in the last run."),
		httpRedirects: d("vigil_http_redirects", "Redirects followed in the last run."),
		certExpiry:    d("vigil_tls_cert_expiry_timestamp_seconds", "Earliest NotAfter of the certificate chain seen in the last run (Unix seconds)."),
		dnsAnswer:     d("vigil_dns_answer_rrs", "Resource records in the answer section of the last run."),
		dnsAuthority:  d("vigil_dns_authority_rrs", "Resource records in the authority section of the last run."),
		dnsAdditional: d("vigil_dns_additional_rrs", "Resource records in the additional section of the last run."),
		dnsSerial:     d("vigil_dns_serial", "SOA serial seen in the last run."),
		msgSent:       d("vigil_messages_sent_total", "Messages published by round-trip checks."),
		msgReceived:   d("vigil_messages_received_total", "Messages of this agent received back by round-trip checks."),
		msgLost:       d("vigil_messages_lost_total", "Messages published that did not arrive within the run's timeout."),
		msgDup:        d("vigil_messages_duplicated_total", "Messages received more than once."),
		msgReordered:  d("vigil_messages_reordered_total", "Messages received after a message published later."),
		msgCorrupted:  d("vigil_messages_corrupted_total", "Messages received with a bad checksum or an unreadable payload."),
		rtt:           d("vigil_message_roundtrip_seconds", "Per message, publish to delivery."),
	}
}

func (d *checkDescs) all() []*prometheus.Desc {
	return []*prometheus.Desc{d.up, d.runs, d.duration, d.phase, d.lastRun, d.interval, d.timeout,
		d.httpStatus, d.httpVersion, d.httpLength, d.httpRedirects, d.certExpiry,
		d.dnsAnswer, d.dnsAuthority, d.dnsAdditional, d.dnsSerial,
		d.msgSent, d.msgReceived, d.msgLost, d.msgDup, d.msgReordered, d.msgCorrupted, d.rtt}
}

// NewMetrics creates the series with constLabels (the agent's region and
// labels) on every one and registers them on reg. Constant labels rather than a
// wrapping registerer: wrapping costs a descriptor and a label merge per series
// on every scrape.
func NewMetrics(reg prometheus.Registerer, constLabels prometheus.Labels) *Metrics {
	m := &Metrics{
		d:      newCheckDescs(constLabels),
		checks: map[string]*CheckMetrics{},

		ReloadSuccess:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_config_last_reload_successful", Help: "1 if the last config load or reload succeeded.", ConstLabels: constLabels}),
		ReloadTimestamp:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_config_last_reload_success_timestamp_seconds", Help: "Time of the last successful config load (Unix seconds).", ConstLabels: constLabels}),
		ChecksConfigured: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_checks_configured", Help: "Checks scheduled by this agent (after sharding).", ConstLabels: constLabels}),
		InFlight:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_checks_in_flight", Help: "Check runs in progress.", ConstLabels: constLabels}),
		Lateness: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vigil_schedule_lateness_seconds", Help: "Actual start minus planned start of check runs.", ConstLabels: constLabels,
			Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}}),
	}
	for _, k := range slices.Sorted(maps.Keys(constLabels)) {
		m.consts = append(m.consts, pair(k, constLabels[k]))
	}
	version := Version
	if bi, ok := debug.ReadBuildInfo(); ok && version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	buildLabels := prometheus.Labels{"version": version, "revision": Revision, "goversion": goVersion()}
	for k, v := range constLabels {
		buildLabels[k] = v
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_build_info", Help: "Always 1; labels say which build runs.", ConstLabels: buildLabels})
	build.Set(1)
	reg.MustRegister(checkCollector{m}, m.ReloadSuccess, m.ReloadTimestamp, m.ChecksConfigured, m.InFlight, m.Lateness, build)
	return m
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return ""
}

func pair(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: proto.String(name), Value: proto.String(value)}
}

// sortedPairs returns the pairs sorted by name, capacity equal to length.
func sortedPairs(pairs ...*dto.LabelPair) []*dto.LabelPair {
	slices.SortFunc(pairs, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
	return slices.Clip(pairs)
}

// atomicFloat is a float64 updated without locks.
type atomicFloat struct{ bits atomic.Uint64 }

func (f *atomicFloat) Set(v float64) { f.bits.Store(math.Float64bits(v)) }
func (f *atomicFloat) Load() float64 { return math.Float64frombits(f.bits.Load()) }
func (f *atomicFloat) Add(v float64) {
	for {
		old := f.bits.Load()
		if f.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// histogram counts observations per bucket (not cumulative; +Inf last).
type histogram struct {
	upper  []float64
	counts []atomic.Uint64
	sum    atomicFloat
}

func newHistogram(upper []float64) *histogram {
	return &histogram{upper: upper, counts: make([]atomic.Uint64, len(upper)+1)}
}

func (h *histogram) Observe(v float64) {
	h.counts[sort.SearchFloat64s(h.upper, v)].Add(1)
	h.sum.Add(v)
}

// CheckMetrics are one check's series: values in plain atomics, label pairs
// built once.
type CheckMetrics struct {
	m    *Metrics
	key  string
	kind string

	base    []*dto.LabelPair
	results [3][]*dto.LabelPair // success, failure, timeout

	up, lastRun                   atomicFloat
	interval, timeout             atomicFloat
	scheduled                     atomic.Bool
	runs                          [3]atomic.Uint64
	duration                      *histogram
	status, version, length, redi atomicFloat
	cert                          atomicFloat
	hasCert                       atomic.Bool
	answer, authority, additional atomicFloat
	serial                        atomicFloat
	hasSerial                     atomic.Bool
	msgs                          [6]atomic.Uint64 // sent, received, lost, duplicated, reordered, corrupted
	rtt                           *histogram

	phaseMu sync.Mutex
	phases  []phaseValue
}

type phaseValue struct {
	name   string
	labels []*dto.LabelPair
	value  float64
}

var resultNames = [3]string{"success", "failure", "timeout"}

// Check binds the series of one check; kind is http, dns or messaging. The
// same labels give the same CheckMetrics, so counters survive reloads.
func (m *Metrics) Check(service, feature, check, kind string) *CheckMetrics {
	key := service + "\x00" + feature + "\x00" + check + "\x00" + kind
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.checks[key]; ok {
		return c
	}
	c := &CheckMetrics{m: m, key: key, kind: kind, duration: newHistogram(durationBuckets)}
	own := []*dto.LabelPair{pair("service", service), pair("feature", feature), pair("check", check), pair("kind", kind)}
	c.base = sortedPairs(append(slices.Clone(m.consts), own...)...)
	for i, r := range resultNames {
		c.results[i] = sortedPairs(append(slices.Clone(c.base), pair("result", r))...)
	}
	if kind == "messaging" {
		c.rtt = newHistogram(roundtripBuckets)
	}
	m.checks[key] = c
	return c
}

// SetSchedule records the check's interval and timeout (on load and reload), so
// alerts can tell a stale check from a slow schedule.
func (c *CheckMetrics) SetSchedule(interval, timeout time.Duration) {
	c.interval.Set(interval.Seconds())
	c.timeout.Set(timeout.Seconds())
	c.scheduled.Store(true)
}

// Observe records one result.
func (c *CheckMetrics) Observe(r *probes.Result) {
	switch {
	case r.Success:
		c.up.Set(1)
		c.runs[0].Add(1)
	case r.TimedOut:
		c.up.Set(0)
		c.runs[2].Add(1)
	default:
		c.up.Set(0)
		c.runs[1].Add(1)
	}
	c.lastRun.Set(float64(r.Start.UnixNano()) / 1e9)
	c.duration.Observe(r.Duration.Seconds())
	if len(r.Phases) > 0 {
		c.phaseMu.Lock()
		for _, p := range r.Phases {
			i := slices.IndexFunc(c.phases, func(v phaseValue) bool { return v.name == p.Name })
			if i < 0 {
				c.phases = append(c.phases, phaseValue{name: p.Name, labels: sortedPairs(append(slices.Clone(c.base), pair("phase", p.Name))...)})
				i = len(c.phases) - 1
			}
			c.phases[i].value = p.Duration.Seconds()
		}
		c.phaseMu.Unlock()
	}
	if h := r.HTTP; h != nil && c.kind == "http" {
		c.status.Set(float64(h.StatusCode))
		c.version.Set(httpVersionNumber(h.Version))
		c.length.Set(float64(h.ContentLength))
		c.redi.Set(float64(h.Redirects))
		if !h.CertExpiry.IsZero() {
			c.cert.Set(float64(h.CertExpiry.Unix()))
			c.hasCert.Store(true)
		}
	}
	if d := r.DNS; d != nil && c.kind == "dns" {
		c.answer.Set(float64(d.Answer))
		c.authority.Set(float64(d.Authority))
		c.additional.Set(float64(d.Additional))
		if d.HasSOA {
			c.serial.Set(float64(d.SOASerial))
			c.hasSerial.Store(true)
		}
	}
	if mi := r.Messaging; mi != nil && c.kind == "messaging" {
		for i, n := range [6]int{mi.Sent, mi.Received, mi.Lost, mi.Duplicated, mi.Reordered, mi.Corrupted} {
			c.msgs[i].Add(uint64(n))
		}
		for _, rt := range mi.RoundTrips {
			c.rtt.Observe(rt.Seconds())
		}
	}
}

// Forget deletes the check's series (the check was removed or replaced).
func (c *CheckMetrics) Forget() {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.m.checks[c.key] == c {
		delete(c.m.checks, c.key)
	}
}

func httpVersionNumber(v string) float64 {
	switch v {
	case "HTTP/1.0":
		return 1.0
	case "HTTP/1.1":
		return 1.1
	case "HTTP/2.0", "HTTP/2":
		return 2
	case "HTTP/3.0", "HTTP/3":
		return 3
	}
	return 0
}

// checkCollector emits every bound check's series.
type checkCollector struct{ m *Metrics }

func (cc checkCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range cc.m.d.all() {
		ch <- d
	}
}

func (cc checkCollector) Collect(ch chan<- prometheus.Metric) {
	m, d := cc.m, cc.m.d
	m.mu.Lock()
	checks := slices.Collect(maps.Values(m.checks))
	m.mu.Unlock()
	for _, c := range checks {
		gauge := func(desc *prometheus.Desc, v float64) {
			ch <- &constmetric.Sample{Descriptor: desc, Labels: c.base, Value: v}
		}
		counter := func(desc *prometheus.Desc, labels []*dto.LabelPair, v uint64) {
			ch <- &constmetric.Sample{Descriptor: desc, Labels: labels, Value: float64(v), Counter: true}
		}
		gauge(d.up, c.up.Load())
		for i := range c.runs {
			counter(d.runs, c.results[i], c.runs[i].Load())
		}
		ch <- c.duration.sample(d.duration, c.base)
		gauge(d.lastRun, c.lastRun.Load())
		if c.scheduled.Load() {
			gauge(d.interval, c.interval.Load())
			gauge(d.timeout, c.timeout.Load())
		}
		c.phaseMu.Lock()
		for _, p := range c.phases {
			ch <- &constmetric.Sample{Descriptor: d.phase, Labels: p.labels, Value: p.value}
		}
		c.phaseMu.Unlock()
		switch c.kind {
		case "http":
			gauge(d.httpStatus, c.status.Load())
			gauge(d.httpVersion, c.version.Load())
			gauge(d.httpLength, c.length.Load())
			gauge(d.httpRedirects, c.redi.Load())
			if c.hasCert.Load() {
				gauge(d.certExpiry, c.cert.Load())
			}
		case "dns":
			gauge(d.dnsAnswer, c.answer.Load())
			gauge(d.dnsAuthority, c.authority.Load())
			gauge(d.dnsAdditional, c.additional.Load())
			if c.hasSerial.Load() {
				gauge(d.dnsSerial, c.serial.Load())
			}
		case "messaging":
			for i, desc := range []*prometheus.Desc{d.msgSent, d.msgReceived, d.msgLost, d.msgDup, d.msgReordered, d.msgCorrupted} {
				counter(desc, c.base, c.msgs[i].Load())
			}
			ch <- c.rtt.sample(d.rtt, c.base)
		}
	}
}

// histSample is a histogram's state at one scrape.
type histSample struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	h      *histogram
}

func (h *histogram) sample(desc *prometheus.Desc, labels []*dto.LabelPair) *histSample {
	return &histSample{desc: desc, labels: labels, h: h}
}

func (s *histSample) Desc() *prometheus.Desc { return s.desc }

func (s *histSample) Write(out *dto.Metric) error {
	out.Label = s.labels
	h := s.h
	buckets := make([]*dto.Bucket, len(h.upper))
	var cumulative uint64
	for i, upper := range h.upper {
		cumulative += h.counts[i].Load()
		buckets[i] = &dto.Bucket{UpperBound: proto.Float64(upper), CumulativeCount: proto.Uint64(cumulative)}
	}
	// The count includes +Inf; computed from the buckets so the two always agree.
	count := cumulative + h.counts[len(h.upper)].Load()
	sum := h.sum.Load()
	out.Histogram = &dto.Histogram{SampleCount: &count, SampleSum: &sum, Bucket: buckets}
	return nil
}
