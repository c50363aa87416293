package export

import (
	"cmp"
	"maps"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/probes"
)

// Build information, set by the linker (-X) or read from the module.
var (
	Version  = "dev"
	Revision = ""
)

// Metrics holds the probe-level and agent series. The per-check families are
// an expo.Source over compact per-check values whose label pairs are rendered
// once per check: client_golang's vectors cost about 12 KiB per check in
// children and label pairs, and its Gather most of a scrape's time and garbage
// at 10,000 checks. The agent's own few series stay on the registry.
type Metrics struct {
	schema *expo.Schema
	consts map[string]string

	mu     sync.Mutex
	checks map[string]*CheckMetrics
	sorted []*CheckMetrics // by service, feature, check, kind; nil when stale

	// Agent series.
	ReloadSuccess    prometheus.Gauge
	ReloadTimestamp  prometheus.Gauge
	ChecksConfigured prometheus.Gauge
	InFlight         prometheus.Gauge
	Lateness         prometheus.Histogram
}

var (
	durationBuckets  = expo.NewBuckets(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)
	roundtripBuckets = expo.NewBuckets(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)
)

// NewMetrics creates the series with constLabels (the agent's region and
// labels) on every one and registers the agent's own on reg; the per-check
// series are written by m.WriteMetrics.
func NewMetrics(reg prometheus.Registerer, constLabels prometheus.Labels) *Metrics {
	names := []string{"service", "feature", "check", "kind"}
	for k := range constLabels {
		names = append(names, k)
	}
	m := &Metrics{
		schema: expo.NewSchema(names...),
		consts: constLabels,
		checks: map[string]*CheckMetrics{},

		ReloadSuccess:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_config_last_reload_successful", Help: "1 if the last config load or reload succeeded.", ConstLabels: constLabels}),
		ReloadTimestamp:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_config_last_reload_success_timestamp_seconds", Help: "Time of the last successful config load (Unix seconds).", ConstLabels: constLabels}),
		ChecksConfigured: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_checks_configured", Help: "Checks scheduled by this agent (after sharding).", ConstLabels: constLabels}),
		InFlight:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_checks_in_flight", Help: "Check runs in progress.", ConstLabels: constLabels}),
		Lateness: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vigil_schedule_lateness_seconds", Help: "Actual start minus planned start of check runs.", ConstLabels: constLabels,
			Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}}),
	}
	version, revision := Build()
	buildLabels := prometheus.Labels{"version": version, "revision": revision, "goversion": goVersion()}
	for k, v := range constLabels {
		buildLabels[k] = v
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_build_info", Help: "Always 1; labels say which build runs.", ConstLabels: buildLabels})
	build.Set(1)
	reg.MustRegister(m.ReloadSuccess, m.ReloadTimestamp, m.ChecksConfigured, m.InFlight, m.Lateness, build)
	return m
}

// Build is the running binary's version and revision: what the linker set
// (make build), else what the go command stamped into the build info (the
// module's version, and the VCS revision with "-dirty" for a modified tree
// when built from a checkout), else "dev" and "unknown".
func Build() (version, revision string) {
	version, revision = Version, Revision
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version, cmp.Or(revision, "unknown")
	}
	if version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	if revision == "" {
		var dirty bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value[:min(12, len(s.Value))]
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if revision != "" && dirty {
			revision += "-dirty"
		}
	}
	return version, cmp.Or(revision, "unknown")
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return ""
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

// histBuckets is how many buckets a histogram has room for, +Inf included:
// durationBuckets and roundtripBuckets have 14 bounds. Counts held inline
// make a check's duration histogram part of its CheckMetrics, not two more
// allocations.
const histBuckets = 15

// histogram counts observations per bucket (not cumulative; +Inf last), and
// in a native histogram's sparse buckets (native.go) for protobuf scrapes.
type histogram struct {
	buckets *expo.Buckets
	counts  [histBuckets]atomic.Uint64
	sum     atomicFloat
	// mu orders observations and protobuf scrapes: Prometheus refuses a
	// native histogram whose buckets hold more than its count, so one is
	// read whole. Text scrapes read the atomics without it, as before.
	mu     sync.Mutex
	sparse sparse
}

func (h *histogram) init(b *expo.Buckets) {
	if len(b.Upper()) >= histBuckets {
		panic("export: more histogram buckets than histBuckets")
	}
	h.buckets = b
}

func (h *histogram) Observe(v float64) {
	h.mu.Lock()
	h.counts[sort.SearchFloat64s(h.buckets.Upper(), v)].Add(1)
	h.sum.Add(v)
	h.sparse.observe(v)
	h.mu.Unlock()
}

// write writes the histogram; its count is the buckets' sum, so the two agree
// even while a run is being observed.
func (h *histogram) write(w *expo.Writer, l *expo.Labels) {
	h.writeAs(w, l, h.buckets)
}

// writeBasic writes the histogram as the basic profile has it: the +Inf
// bucket, the sum and the count (and the native buckets in protobuf).
func (h *histogram) writeBasic(w *expo.Writer, l *expo.Labels) {
	h.writeAs(w, l, basicDurationBuckets)
}

// writeAs writes the histogram with the classic buckets of as: h's own, or
// basic's none but +Inf.
func (h *histogram) writeAs(w *expo.Writer, l *expo.Labels, as *expo.Buckets) {
	var counts [histBuckets]uint64
	n := len(h.buckets.Upper()) + 1
	if !w.Protobuf() {
		for i := range n {
			counts[i] = h.counts[i].Load()
		}
		if as != h.buckets {
			w.Histogram(l, as, []uint64{sumCounts(counts[:n])}, h.sum.Load())
			return
		}
		w.Histogram(l, as, counts[:n], h.sum.Load())
		return
	}
	var nativeCounts [nativeWidth]uint64
	h.mu.Lock()
	for i := range n {
		counts[i] = h.counts[i].Load()
	}
	sum := h.sum.Load()
	native := h.sparse.native(&nativeCounts)
	h.mu.Unlock()
	if as != h.buckets {
		counts[0], n = sumCounts(counts[:n]), 1
	}
	w.NativeHistogram(l, as, counts[:n], sum, &native)
}

func sumCounts(counts []uint64) uint64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	return total
}

// CheckMetrics are one check's series: values in plain atomics, label pairs
// rendered once.
type CheckMetrics struct {
	m *Metrics
	// key is checkKey's, also the map's key: one string, not four (they are
	// in labels too), and it sorts as the four do.
	key    string
	labels expo.Labels

	up, lastRun       atomicFloat
	interval, timeout atomicFloat
	scheduled         atomic.Bool
	profile           atomic.Uint32 // a Profile; 0 until SetProfile
	runs              [3]atomic.Uint64
	duration          histogram
	// values are what only runs of the check's kind have (*httpValues,
	// *dnsValues, ..., nil for a kind with none; kinds.go). One interface
	// rather than a pointer per kind keeps CheckMetrics in its size class.
	values any

	phaseMu sync.Mutex
	phases  []phaseValue
}

// phaseValue is the duration of one phase in the check's last run that had it.
type phaseValue struct {
	*phase
	value float64
}

// phase is a phase's name and its phase="name" pair, shared by every check:
// a handful of names, 10,000 checks.
type phase struct {
	name string
	pair expo.Pair
}

var phases sync.Map // name -> *phase

func phaseNamed(name string) *phase {
	if p, ok := phases.Load(name); ok {
		return p.(*phase)
	}
	p, _ := phases.LoadOrStore(name, &phase{name: name, pair: expo.NewPair("phase", name)})
	return p.(*phase)
}

var resultPairs = [3]expo.Pair{expo.NewPair("result", "success"), expo.NewPair("result", "failure"), expo.NewPair("result", "timeout")}

// checkKey is a check's key in Metrics.checks. Compared as a string, it
// orders checks by service, feature, check and kind: NUL sorts before any
// other byte, as the end of a shorter name does.
func checkKey(service, feature, check, kind string) string {
	return service + "\x00" + feature + "\x00" + check + "\x00" + kind
}

// Check binds the series of one check; kind is one of probes/kinds's (http,
// dns, messaging, tcp, tls, ssh, grpc, icmp). The
// same labels give the same CheckMetrics, so counters survive reloads.
func (m *Metrics) Check(service, feature, check, kind string) *CheckMetrics {
	key := checkKey(service, feature, check, kind)
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.checks[key]; ok {
		return c
	}
	c := &CheckMetrics{m: m, key: key}
	c.duration.init(durationBuckets)
	own := map[string]string{"service": service, "feature": feature, "check": check, "kind": kind}
	values := make([]string, 0, len(m.schema.Names()))
	for _, name := range m.schema.Names() {
		if v, ok := own[name]; ok {
			values = append(values, v)
		} else {
			values = append(values, m.consts[name])
		}
	}
	c.labels = expo.NewLabels(m.schema, values...)
	c.values = newKindValues(kind)
	m.checks[key] = c
	m.sorted = nil
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
		if c.phases == nil {
			// Runs of a check mostly have the same phases: room for these.
			c.phases = make([]phaseValue, 0, len(r.Phases))
		}
		for _, p := range r.Phases {
			i := slices.IndexFunc(c.phases, func(v phaseValue) bool { return v.name == p.Name })
			if i < 0 {
				c.phases = append(c.phases, phaseValue{phase: phaseNamed(p.Name)})
				i = len(c.phases) - 1
			}
			c.phases[i].value = p.Duration.Seconds()
		}
		c.phaseMu.Unlock()
	}
	c.observeKind(r)
}

// Forget deletes the check's series (the check was removed or replaced).
func (c *CheckMetrics) Forget() {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.m.checks[c.key] == c {
		delete(c.m.checks, c.key)
		c.m.sorted = nil
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

// snapshot returns the checks in a stable order: by service, feature, check
// and kind.
func (m *Metrics) snapshot() []*CheckMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sorted == nil {
		m.sorted = slices.SortedFunc(maps.Values(m.checks), func(a, b *CheckMetrics) int {
			return strings.Compare(a.key, b.key)
		})
	}
	return m.sorted
}

// checkFamily is one per-check family and how one check writes its samples.
type checkFamily struct {
	expo.Family
	write func(w *expo.Writer, c *CheckMetrics)
}

func gauge(name, help string, v func(c *CheckMetrics) (float64, bool)) checkFamily {
	return checkFamily{expo.Family{Name: name, Help: help, Type: expo.Gauge}, func(w *expo.Writer, c *CheckMetrics) {
		if x, ok := v(c); ok {
			w.Sample(&c.labels, x)
		}
	}}
}

// of reads a value from the check's kind-specific values when the check has
// values of type V (get returns nil otherwise).
func of[V any](get func(*CheckMetrics) *V, value func(v *V) (float64, bool)) func(c *CheckMetrics) (float64, bool) {
	return func(c *CheckMetrics) (float64, bool) {
		if v := get(c); v != nil {
			return value(v)
		}
		return 0, false
	}
}

func always(f *atomicFloat) (float64, bool) { return f.Load(), true }

func messageCounter(name, help string, i int) checkFamily {
	return checkFamily{expo.Family{Name: name, Help: help, Type: expo.Counter}, func(w *expo.Writer, c *CheckMetrics) {
		if v := c.msgv(); v != nil {
			w.Sample(&c.labels, float64(v.counts[i].Load()))
		}
	}}
}

// checkFamilies are written in this order, sorted by name. Where
// blackbox_exporter has the same series, the help says which.
var checkFamilies = []checkFamily{
	{expo.Family{Name: "vigil_check_duration_seconds", Help: "Duration of whole check runs.", Type: expo.Histogram},
		func(w *expo.Writer, c *CheckMetrics) {
			if c.checkProfile() == ProfileBasic {
				c.duration.writeBasic(w, &c.labels)
				return
			}
			c.duration.write(w, &c.labels)
		}},
	gauge("vigil_check_interval_seconds", "How often the check is scheduled to run.",
		func(c *CheckMetrics) (float64, bool) { return c.interval.Load(), c.scheduled.Load() }),
	gauge("vigil_check_last_run_timestamp_seconds", "Start time of the check's last run (Unix seconds).",
		func(c *CheckMetrics) (float64, bool) { return always(&c.lastRun) }),
	{expo.Family{Name: "vigil_check_phase_duration_seconds", Help: "Duration of each phase of the check's last run.", Type: expo.Gauge},
		func(w *expo.Writer, c *CheckMetrics) {
			c.phaseMu.Lock()
			defer c.phaseMu.Unlock()
			for i := range c.phases {
				w.SampleWith(&c.labels, &c.phases[i].pair, c.phases[i].value)
			}
		}},
	{expo.Family{Name: "vigil_check_runs_total", Help: "Check runs by result (success, failure, timeout).", Type: expo.Counter},
		func(w *expo.Writer, c *CheckMetrics) {
			basic := c.checkProfile() == ProfileBasic
			for i := range resultPairs {
				n := c.runs[i].Load()
				if basic && i > 0 && n == 0 {
					continue // basic: the results the check has had, success always
				}
				w.SampleWith(&c.labels, &resultPairs[i], float64(n))
			}
		}},
	gauge("vigil_check_timeout_seconds", "How long one run of the check may take.",
		func(c *CheckMetrics) (float64, bool) { return c.timeout.Load(), c.scheduled.Load() }),
	gauge("vigil_check_up", "1 if the check's last run passed, 0 if it failed.",
		func(c *CheckMetrics) (float64, bool) { return always(&c.up) }),
	gauge("vigil_dns_additional_rrs", "Resource records in the additional section of the last run.",
		of((*CheckMetrics).dnsv, func(v *dnsValues) (float64, bool) { return always(&v.additional) })),
	gauge("vigil_dns_answer_rrs", "Resource records in the answer section of the last run.",
		of((*CheckMetrics).dnsv, func(v *dnsValues) (float64, bool) { return always(&v.answer) })),
	gauge("vigil_dns_authority_rrs", "Resource records in the authority section of the last run.",
		of((*CheckMetrics).dnsv, func(v *dnsValues) (float64, bool) { return always(&v.authority) })),
	gauge("vigil_dns_serial", "SOA serial seen in the last run.",
		of((*CheckMetrics).dnsv, func(v *dnsValues) (float64, bool) { return v.serial.Load(), v.hasSerial.Load() })),
	{expo.Family{Name: "vigil_grpc_healthcheck_response", Help: "1 for the serving status of the last health check answered, 0 for the others; all 0 when the call failed (blackbox_exporter: probe_grpc_healthcheck_response).", Type: expo.Gauge},
		func(w *expo.Writer, c *CheckMetrics) {
			if v := c.grpcv(); v != nil && v.hasCall.Load() {
				serving := int(v.serving.Load())
				for i := range servingStatuses {
					w.SampleWith(&c.labels, &servingStatuses[i].pair, b2f(i == serving))
				}
			}
		}},
	gauge("vigil_grpc_status_code", "gRPC status code of the last health check call, 0 for OK (blackbox_exporter: probe_grpc_status_code).",
		of((*CheckMetrics).grpcv, func(v *grpcValues) (float64, bool) { return v.code.Load(), v.hasCall.Load() })),
	gauge("vigil_http_content_length_bytes", "Body bytes read in the last run.",
		of((*CheckMetrics).httpv, func(v *httpValues) (float64, bool) { return always(&v.length) })),
	gauge("vigil_http_redirects", "Redirects followed in the last run.",
		of((*CheckMetrics).httpv, func(v *httpValues) (float64, bool) { return always(&v.redi) })),
	gauge("vigil_http_status_code", "HTTP status code of the last run's final response (0 if none).",
		of((*CheckMetrics).httpv, func(v *httpValues) (float64, bool) { return always(&v.status) })),
	gauge("vigil_http_version", "HTTP version of the last run's final response, e.g. 1.1 or 2.",
		of((*CheckMetrics).httpv, func(v *httpValues) (float64, bool) { return always(&v.version) })),
	gauge("vigil_icmp_reply_ttl", "TTL (hop limit for IPv6) of the last echo reply (blackbox_exporter: probe_icmp_reply_hop_limit).",
		of((*CheckMetrics).icmpv, func(v *icmpValues) (float64, bool) { return v.ttl.Load(), v.hasTTL.Load() })),
	journeyFamily("vigil_journey_step_duration_seconds", "Duration of each journey step in the last run that ran it.",
		func(s *journeyStep) float64 { return s.duration }),
	journeyFamily("vigil_journey_step_up", "1 if the journey step passed in the last run that ran it, 0 if it failed.",
		func(s *journeyStep) float64 { return s.up }),
	{expo.Family{Name: "vigil_message_roundtrip_seconds", Help: "Per message, publish to delivery.", Type: expo.Histogram},
		func(w *expo.Writer, c *CheckMetrics) {
			if v := c.msgv(); v != nil {
				v.rtt.write(w, &c.labels)
			}
		}},
	messageCounter("vigil_messages_corrupted_total", "Messages received with a bad checksum or an unreadable payload.", 5),
	messageCounter("vigil_messages_duplicated_total", "Messages received more than once.", 3),
	messageCounter("vigil_messages_lost_total", "Messages published that did not arrive within the run's timeout.", 2),
	messageCounter("vigil_messages_received_total", "Messages of this agent received back by round-trip checks.", 1),
	messageCounter("vigil_messages_reordered_total", "Messages received after a message published later.", 4),
	messageCounter("vigil_messages_sent_total", "Messages published by round-trip checks.", 0),
	gauge("vigil_ssh_authenticated", "1 if the configured user logged in on the last run that tried, 0 if not; absent without a user.",
		of((*CheckMetrics).sshv, func(v *sshValues) (float64, bool) { return v.authenticated.Load(), v.hasAuth.Load() })),
	gauge("vigil_tcp_exchanges", "query_response steps completed in the last run that connected.",
		of((*CheckMetrics).tcpv, func(v *tcpValues) (float64, bool) { return v.exchanges.Load(), v.hasExchanges.Load() })),
	gauge("vigil_tls_cert_expiry_timestamp_seconds", "Earliest NotAfter of the certificate chain of the last run that made a TLS handshake (Unix seconds; blackbox_exporter: probe_ssl_earliest_cert_expiry).",
		of((*CheckMetrics).tlsv, func(v *tlsValues) (float64, bool) { return v.cert.Load(), v.hasCert.Load() })),
	infoGauge("vigil_tls_cipher_info", "Always 1; the cipher suite of the last TLS handshake (blackbox_exporter: probe_tls_cipher_info).",
		func(c *CheckMetrics) *infoLabel {
			if v := c.tlsv(); v != nil {
				return v.cipher.Load()
			}
			return nil
		}),
	infoGauge("vigil_tls_version_info", "Always 1; the TLS version of the last TLS handshake (blackbox_exporter: probe_tls_version_info).",
		func(c *CheckMetrics) *infoLabel {
			if v := c.tlsv(); v != nil {
				return v.version.Load()
			}
			return nil
		}),
}

// WriteMetrics writes every bound check's series (expo.Source).
func (m *Metrics) WriteMetrics(w *expo.Writer) {
	checks := m.snapshot()
	// The families no check's profile has are skipped whole: in basic that
	// is most of them, and each would be a pass over every check.
	var top Profile
	for _, c := range checks {
		if top = max(top, c.checkProfile()); top == ProfileFull {
			break
		}
	}
	for i := range checkFamilies {
		f, least := &checkFamilies[i], checkFamilyProfiles[i]
		if least > top {
			continue
		}
		w.Family(&f.Family)
		w.Each(len(checks), func(w *expo.Writer, i int) {
			if i%warmAhead == 0 {
				warm(checks[i:min(i+warmAhead, len(checks))])
			}
			if c := checks[i]; c.checkProfile() >= least {
				f.write(w, c)
			}
		})
	}
}

// warmAhead is how many checks a pass over them loads at once (warm).
const warmAhead = 16

// warm reads the profile of each of checks in one tight loop. A pass over
// 50,000 checks (one per family) reads each check's CheckMetrics, which is out
// of cache by then: read one at a time, between the samples, every read was a
// stall of its own (checkProfile alone was 14% of a basic render's CPU);
// issued together, the reads overlap, and the pass finds them in cache.
func warm(checks []*CheckMetrics) {
	var sum uint32
	for _, c := range checks {
		sum += c.profile.Load()
	}
	runtime.KeepAlive(sum) // or the compiler drops the loads
}
