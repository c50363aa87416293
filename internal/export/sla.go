package export

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/sla"
)

// SLAMetrics writes the feature-level families (vigil_feature_*,
// vigil_outage*, vigil_sla_*) from the figures the SLA engine hands out. It
// is an expo.Staged source: label pairs are rendered once per configuration,
// figures computed per scrape while the exposition writes the per-check
// families.
type SLAMetrics struct {
	engine      *sla.Engine
	constLabels map[string]string
	reserved    map[string]bool
	labels      atomic.Pointer[featureLabelSet] // of the last configuration seen
	profiles    atomic.Pointer[featureProfiles] // nil: every feature standard
	lastRows    atomic.Int64                    // rows of the last scrape: the next one's capacity
}

// NewSLAMetrics writes engine's feature-level families with constLabels (the
// agent's region and labels) on every series. A feature metadata label
// named like a constant label, one of reserved (the labels the agent adds
// when it wraps the registerer) or one of ours is exported on
// vigil_feature_info as label_<name> instead, so that no series has a label
// twice.
func NewSLAMetrics(engine *sla.Engine, constLabels map[string]string, reserved []string) *SLAMetrics {
	s := &SLAMetrics{engine: engine, constLabels: maps.Clone(constLabels), reserved: maps.Clone(reservedFeatureLabels)}
	for name := range constLabels {
		s.reserved[name] = true
	}
	for _, name := range reserved {
		s.reserved[name] = true
	}
	return s
}

// featureLabelSet is one configuration's rendered label pairs, by the index
// of the engine's specs.
type featureLabelSet struct {
	generation uint64
	profiles   *featureProfiles // those the set was rendered with
	features   []featureLabels
	top        Profile // the largest of the features' profiles
}

// featureLabels are one feature's label pairs.
type featureLabels struct {
	labels  expo.Labels // service, feature and the agent's labels
	info    expo.Labels // those, title and the metadata labels
	profile Profile
}

// reservedFeatureLabels may not be taken by metadata labels: ours, and those
// the agent adds when wrapping the registerer.
var reservedFeatureLabels = map[string]bool{"service": true, "feature": true, "title": true, "state": true,
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

// renderLabels renders the label pairs of specs: vigil_feature_info carries
// the union of every feature's metadata label names.
func (s *SLAMetrics) renderLabels(specs []sla.FeatureSpec, generation uint64, profiles *featureProfiles) *featureLabelSet {
	sanitized := map[string]string{}
	union := map[string]bool{}
	for _, spec := range specs {
		for k := range spec.Labels {
			name := sanitizeLabel(k, s.reserved)
			sanitized[k] = name
			union[name] = true
		}
	}
	names := slices.Sorted(maps.Keys(union))
	base := append([]string{"service", "feature"}, slices.Collect(maps.Keys(s.constLabels))...)
	schema := expo.NewSchema(base...)
	infoSchema := expo.NewSchema(append(append(base, "title"), names...)...)
	set := &featureLabelSet{generation: generation, profiles: profiles, features: make([]featureLabels, len(specs))}
	for i, spec := range specs {
		set.features[i] = s.featureLabels(spec, schema, infoSchema, sanitized)
		set.features[i].profile = s.profileOf(profiles, &spec)
		set.top = max(set.top, set.features[i].profile)
	}
	return set
}

func (s *SLAMetrics) featureLabels(spec sla.FeatureSpec, schema, infoSchema *expo.Schema, sanitized map[string]string) featureLabels {
	values := map[string]string{"service": spec.Service, "feature": spec.Feature, "title": spec.Title}
	for _, k := range slices.Sorted(maps.Keys(spec.Labels)) {
		if name := sanitized[k]; name != "" {
			if _, taken := values[name]; !taken {
				values[name] = spec.Labels[k]
			}
		}
	}
	render := func(schema *expo.Schema) expo.Labels {
		vs := make([]string, 0, len(schema.Names()))
		for _, name := range schema.Names() {
			if v, ok := s.constLabels[name]; ok {
				vs = append(vs, v)
			} else {
				vs = append(vs, values[name])
			}
		}
		return expo.NewLabels(schema, vs...)
	}
	return featureLabels{labels: render(schema), info: render(infoSchema)}
}

// spareRows holds the last scrape's rows weakly, for the next scrape to
// reuse unless a GC has freed them since. 10,000 features are 2 MB of rows:
// pooled, they would stay on the heap between scrapes; made anew for every
// scrape, their garbage would bring the next GC sooner.
var spareRows struct {
	sync.Mutex
	figures weak.Pointer[[]sla.FeatureFigures]
}

// takeRows returns empty rows with room for n.
func takeRows(n int) *[]sla.FeatureFigures {
	spareRows.Lock()
	rows := spareRows.figures.Value()
	spareRows.figures = weak.Pointer[[]sla.FeatureFigures]{}
	spareRows.Unlock()
	if rows == nil || cap(*rows) < n {
		s := make([]sla.FeatureFigures, 0, n)
		return &s
	}
	*rows = (*rows)[:0]
	return rows
}

// keepRows makes rows the spare, held weakly.
func keepRows(rows *[]sla.FeatureFigures) {
	spareRows.Lock()
	spareRows.figures = weak.Make(rows)
	spareRows.Unlock()
}

// WriteMetrics writes every configured feature's figures at now (expo.Source).
func (s *SLAMetrics) WriteMetrics(w *expo.Writer) { s.Stage()(w) }

// Stage computes every configured feature's figures at now and returns their
// writer (expo.Staged): the exposition computes them while it writes the
// per-check families.
func (s *SLAMetrics) Stage() func(w *expo.Writer) {
	rows := takeRows(int(s.lastRows.Load()))
	set := s.labels.Load()
	var known uint64
	if set != nil {
		known = set.generation
	}
	profiles := s.profiles.Load()
	if set != nil && set.profiles != profiles {
		known = 0 // the profiles changed: render again
	}
	figures, specs, generation := s.engine.Figures(*rows, known)
	*rows = figures
	s.lastRows.Store(int64(len(figures)))
	if generation != known {
		set = s.renderLabels(specs, generation, profiles)
		s.labels.Store(set)
	}
	return func(w *expo.Writer) {
		defer keepRows(rows)
		for i := range featureFamilies {
			fam, least := &featureFamilies[i], featureFamilyProfiles[i]
			if least > set.top {
				continue // no feature's profile has it: no pass over them
			}
			w.Family(&fam.Family)
			w.Each(len(*rows), func(w *expo.Writer, j int) {
				r := &(*rows)[j]
				if m := &set.features[r.Index]; m.profile >= least {
					fam.write(w, m, r)
				}
			})
		}
	}
}

// featureFamily is one feature-level family and how one feature writes it.
type featureFamily struct {
	expo.Family
	write func(w *expo.Writer, m *featureLabels, r *sla.FeatureFigures)
}

func featureGauge(name, help string, typ expo.Type, v func(r *sla.FeatureFigures) float64) featureFamily {
	return featureFamily{expo.Family{Name: name, Help: help, Type: typ}, func(w *expo.Writer, m *featureLabels, r *sla.FeatureFigures) {
		w.Sample(&m.labels, v(r))
	}}
}

// stateOrder is the order of vigil_feature_state's one-hot series.
var stateOrder = [...]sla.State{sla.StateUp, sla.StateDegraded, sla.StateRecovering, sla.StateDown, sla.StateMaintenance, sla.StateUnknown}

// The extra labels of the state, availability and burn families, rendered once.
var (
	statePairs = func() (pairs [len(stateOrder)]expo.Pair) {
		for i, st := range stateOrder {
			pairs[i] = expo.NewPair("state", string(st))
		}
		return pairs
	}()
	availabilityPairs = windowPairs(sla.AvailabilityWindows())
	burnPairs         = windowPairs(sla.BurnWindows())
	// calendarPair labels the figures over a calendar SLO window's current
	// period (slo.window: calendar-month or calendar-week), written only
	// for features that have one.
	calendarPair = expo.NewPair("window", "calendar")
)

func windowPairs(names []string) []expo.Pair {
	pairs := make([]expo.Pair, len(names))
	for i, name := range names {
		pairs[i] = expo.NewPair("window", name)
	}
	return pairs
}

// featureFamilies are written in this order, sorted by name.
var featureFamilies = []featureFamily{
	{expo.Family{Name: "vigil_feature_flapping", Help: "1 while the feature is flapping: its state changed more than flap.changes times within flap.window, until stable for the window.", Type: expo.Gauge},
		func(w *expo.Writer, m *featureLabels, r *sla.FeatureFigures) {
			if m.profile == ProfileBasic && !r.Flapping {
				return // basic: only while flapping, as the state's series
			}
			w.Sample(&m.labels, boolValue(r.Flapping))
		}},
	{expo.Family{Name: "vigil_feature_info", Help: "Feature metadata: title and the service's and feature's labels; always 1.", Type: expo.Gauge},
		func(w *expo.Writer, m *featureLabels, _ *sla.FeatureFigures) { w.Sample(&m.info, 1) }},
	{expo.Family{Name: "vigil_feature_state", Help: "Feature state, one-hot over up, degraded, recovering, down, maintenance, unknown.", Type: expo.Gauge},
		func(w *expo.Writer, m *featureLabels, r *sla.FeatureFigures) {
			for i, st := range stateOrder {
				if m.profile == ProfileBasic && r.State != st {
					continue // basic: the current state alone
				}
				w.SampleWith(&m.labels, &statePairs[i], boolValue(r.State == st))
			}
		}},
	featureGauge("vigil_feature_up", "0 while the feature is down (an outage is open and not recovering), else 1.", expo.Gauge,
		func(r *sla.FeatureFigures) float64 { return boolValue(r.State != sla.StateDown) }),
	featureGauge("vigil_outage_active", "1 while an outage is open.", expo.Gauge,
		func(r *sla.FeatureFigures) float64 { return boolValue(r.OutageActive) }),
	featureGauge("vigil_outage_last_duration_seconds", "Duration of the current (so far) or last outage, 0 if none.", expo.Gauge,
		func(r *sla.FeatureFigures) float64 { return r.LastOutageSeconds }),
	featureGauge("vigil_outage_start_timestamp_seconds", "Start of the current or last outage, 0 if none.", expo.Gauge,
		func(r *sla.FeatureFigures) float64 { return r.OutageStart }),
	featureGauge("vigil_outages_total", "Outages opened.", expo.Counter,
		func(r *sla.FeatureFigures) float64 { return float64(r.Outages) }),
	{expo.Family{Name: "vigil_sla_availability_ratio", Help: "Availability over a rolling window, the SLO window (slo) or the current calendar period (calendar): 1 - downtime / (window - maintenance - unmonitored).", Type: expo.Gauge},
		func(w *expo.Writer, m *featureLabels, r *sla.FeatureFigures) {
			for i := range r.Availability {
				if m.profile == ProfileBasic && !basicAvailabilityKeep[i] {
					continue // basic: the windows the rules and dashboards read
				}
				w.SampleWith(&m.labels, &availabilityPairs[i], r.Availability[i])
			}
			if r.Calendar {
				w.SampleWith(&m.labels, &calendarPair, r.CalendarAvailability)
			}
		}},
	{expo.Family{Name: "vigil_sla_burn_rate", Help: "Error rate over a rolling window or the current calendar period (calendar) divided by the error budget rate (1 - objective).", Type: expo.Gauge},
		func(w *expo.Writer, m *featureLabels, r *sla.FeatureFigures) {
			for i := range r.Burn {
				w.SampleWith(&m.labels, &burnPairs[i], r.Burn[i])
			}
			if r.Calendar {
				w.SampleWith(&m.labels, &calendarPair, r.CalendarBurn)
			}
		}},
	featureGauge("vigil_sla_degraded_seconds_total", "Time in state degraded (not downtime).", expo.Counter,
		func(r *sla.FeatureFigures) float64 { return r.DegradedSeconds }),
	featureGauge("vigil_sla_downtime_seconds_total", "Downtime counted against the SLA: outages less maintenance and unmonitored time.", expo.Counter,
		func(r *sla.FeatureFigures) float64 { return r.DowntimeSeconds }),
	featureGauge("vigil_sla_error_budget_remaining_ratio", "Error budget left over the SLO window (a calendar window: of the current period): 1 untouched, 0 spent, below 0 overspent.", expo.Gauge,
		func(r *sla.FeatureFigures) float64 { return r.BudgetRemaining }),
	featureGauge("vigil_sla_objective_ratio", "Availability objective of the feature, e.g. 0.999.", expo.Gauge,
		func(r *sla.FeatureFigures) float64 { return r.Objective }),
	featureGauge("vigil_sla_unmonitored_seconds_total", "Time the feature was configured but the agent was not running.", expo.Counter,
		func(r *sla.FeatureFigures) float64 { return r.UnmonitoredSeconds }),
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

var (
	incidentActiveDesc = prometheus.NewDesc("vigil_incident_active",
		"1 while an incident grouped by this label value has an open outage.", []string{"label", "value"}, nil)
	incidentDownDesc = prometheus.NewDesc("vigil_incident_features_down",
		"Features with an open outage in the active incidents grouped by this label value.", []string{"label", "value"}, nil)
)

// IncidentCollector returns a Prometheus collector of engine's active
// incidents under the default grouping rules: vigil_incident_active and
// vigil_incident_features_down, labelled label (the key, e.g. datacenter)
// and value (e.g. pangyo). The label names are fixed so that they never
// collide with the region and agent labels the agent adds to every series.
func IncidentCollector(engine *sla.Engine) prometheus.Collector { return incidentCollector{engine} }

type incidentCollector struct{ e *sla.Engine }

// Describe sends both descriptors.
func (c incidentCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- incidentActiveDesc
	ch <- incidentDownDesc
}

// Collect exports one series pair per label value with an active incident;
// two incidents of the same value (starts far apart, both still open) add
// up, so that no series is sent twice.
func (c incidentCollector) Collect(ch chan<- prometheus.Metric) {
	type labelValue struct{ key, value string }
	down := map[labelValue]int{}
	for _, inc := range c.e.Incidents(sla.IncidentQuery{Active: true}) {
		down[labelValue{inc.Label, inc.Value}] += inc.ActiveCount
	}
	for lv, n := range down {
		ch <- prometheus.MustNewConstMetric(incidentActiveDesc, prometheus.GaugeValue, 1, lv.key, lv.value)
		ch <- prometheus.MustNewConstMetric(incidentDownDesc, prometheus.GaugeValue, float64(n), lv.key, lv.value)
	}
}

var (
	storageWriteErrorsDesc = prometheus.NewDesc("vigil_storage_write_errors_total",
		"Writes to the SLA history store that failed; what they carried is kept in memory and written again.", nil, nil)
	storagePendingDesc = prometheus.NewDesc("vigil_storage_pending_writes",
		"Records of the SLA history waiting to be written to the store after a failed write; 0 when it keeps up.", nil, nil)
)

// StorageCollector exports engine's StoreHealth:
// vigil_storage_write_errors_total and vigil_storage_pending_writes.
func StorageCollector(engine *sla.Engine) prometheus.Collector { return storageCollector{engine} }

type storageCollector struct{ e *sla.Engine }

// Describe sends both descriptors.
func (c storageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- storageWriteErrorsDesc
	ch <- storagePendingDesc
}

// Collect exports the store's write errors and backlog.
func (c storageCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.e.StoreHealth()
	ch <- prometheus.MustNewConstMetric(storageWriteErrorsDesc, prometheus.CounterValue, float64(h.WriteErrors))
	ch <- prometheus.MustNewConstMetric(storagePendingDesc, prometheus.GaugeValue, float64(h.Pending))
}

var (
	vantageUpDesc = prometheus.NewDesc("vigil_agent_vantage_up",
		"1 while the agent's canaries meet their requirement or none is configured; 0 while its vantage is impaired (every feature's time is unmonitored).", nil, nil)
	canariesConfiguredDesc = prometheus.NewDesc("vigil_agent_canaries_configured",
		"Canaries (agent.canaries) that judge the agent's own network.", nil, nil)
)

// VantageCollector exports engine's Vantage: vigil_agent_vantage_up and
// vigil_agent_canaries_configured.
func VantageCollector(engine *sla.Engine) prometheus.Collector {
	return vantageCollector{engine.Vantage}
}

// vantageCollector reads the vantage through a function, so that a test
// can show an impaired one.
type vantageCollector struct{ vantage func() sla.VantageStatus }

// Describe sends both descriptors.
func (c vantageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- vantageUpDesc
	ch <- canariesConfiguredDesc
}

// Collect exports whether the vantage is up and how many canaries judge it.
func (c vantageCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.vantage()
	ch <- prometheus.MustNewConstMetric(vantageUpDesc, prometheus.GaugeValue, boolValue(v.Up || !v.Configured))
	ch <- prometheus.MustNewConstMetric(canariesConfiguredDesc, prometheus.GaugeValue, float64(len(v.Canaries)))
}
