package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/probes/kinds"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Defaults applied where neither the config's defaults block nor a feature or check
// says otherwise.
const (
	DefaultInterval          = 30 * time.Second
	DefaultTimeout           = 10 * time.Second
	DefaultFailureThreshold  = 2
	DefaultRecoveryThreshold = 3
	DefaultObjective         = 99.9
	DefaultWindow            = 30 * 24 * time.Hour
	// DefaultFlapChanges and DefaultFlapWindow are sla.DefaultFlap: more than
	// 6 state changes within 30 minutes is flapping.
	DefaultFlapChanges = 6
	DefaultFlapWindow  = 30 * time.Minute
	// MaxRuns bounds failure_threshold, recovery_threshold and
	// failure_window.runs: it is sla.MaxWindowRuns, the runs a check keeps.
	MaxRuns = 64
)

// The service and feature names the agent's canaries are exported under
// (service="_agent", feature="vantage"). Service names starting with "_" are
// reserved for the agent.
const (
	CanaryService = "_agent"
	CanaryFeature = "vantage"
)

// Config is a whole vigil.yml after defaults were applied and validation passed.
type Config struct {
	Agent    Agent     `yaml:"agent" json:"agent"`
	Defaults Defaults  `yaml:"defaults" json:"defaults"`
	Services []Service `yaml:"services" json:"services"`
	// Global, when set, makes the agent publish its record to NATS
	// JetStream (global.go).
	Global *Global `yaml:"global,omitempty" json:"global,omitempty"`
	// Reports are sent on a schedule (reports.go).
	Reports []Report `yaml:"reports,omitempty" json:"reports,omitempty"`
	// Web is how the status page presents itself and who may write through
	// the API (web.go); Notify the webhooks and e-mail subscriptions
	// (notify.go).
	Web    Web     `yaml:"web,omitempty" json:"web"`
	Notify *Notify `yaml:"notify,omitempty" json:"notify,omitempty"`

	// File is the path the config was read from.
	File string `yaml:"-" json:"-"`
}

// Agent is the `agent` block.
type Agent struct {
	Region string            `yaml:"region" json:"region"`
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	Shard  *Shard            `yaml:"shard,omitempty" json:"shard,omitempty"`
	// Replica tells apart agents that run in one region with the same
	// config (HA); it is part of the default global.agent_id. Default "0".
	Replica string `yaml:"replica,omitempty" json:"replica,omitempty"`
	// Canaries are checks of what must answer from this agent's network
	// whatever happens to the services (the region's gateway, resolvers,
	// another region's agent); while CanaryRequire fails, the agent's vantage
	// is impaired. They run in every shard.
	Canaries      []Check `yaml:"canaries,omitempty" json:"canaries,omitempty"`
	CanaryRequire Require `yaml:"canary_require,omitempty" json:"canary_require"`
	// Browser is the headless Chromium of browser checks (browser.go).
	Browser Browser `yaml:"browser,omitempty" json:"browser"`
	// Metrics is the agent's default metrics block (profile standard);
	// services, features and checks may override it.
	Metrics *Metrics `yaml:"metrics,omitempty" json:"metrics,omitempty"`
}

// Metrics is a `metrics` block: which of the metrics profiles (basic,
// standard, full; internal/export) a check or feature exports. Set on the
// agent, a service, a feature or a check, the most specific wins; validation
// fills every service's, feature's and check's.
type Metrics struct {
	Profile string `yaml:"profile,omitempty" json:"profile,omitempty"`
}

// MetricsProfiles are the values metrics.profile takes.
var MetricsProfiles = []string{"basic", "standard", "full"}

// Shard selects the features this agent runs: those whose hash modulo Count is
// Index.
type Shard struct {
	Index int `yaml:"index" json:"index"`
	Count int `yaml:"count" json:"count"`
}

// Defaults is the `defaults` block; zero fields take the package defaults.
type Defaults struct {
	Interval          probeconfig.Duration `yaml:"interval,omitempty" json:"interval"`
	Timeout           probeconfig.Duration `yaml:"timeout,omitempty" json:"timeout"`
	FailureThreshold  int                  `yaml:"failure_threshold,omitempty" json:"failure_threshold"`
	RecoveryThreshold int                  `yaml:"recovery_threshold,omitempty" json:"recovery_threshold"`
	FailureWindow     *FailureWindow       `yaml:"failure_window,omitempty" json:"failure_window,omitempty"`
	Flap              *Flap                `yaml:"flap,omitempty" json:"flap,omitempty"`
	SLO               *SLO                 `yaml:"slo,omitempty" json:"slo,omitempty"`
	// Gate is the error-budget gate of every feature that sets none.
	Gate *Gate `yaml:"gate,omitempty" json:"gate,omitempty"`
}

// Service is one entry of `services`.
type Service struct {
	Name string `yaml:"name" json:"name"`
	// Title is the title in one language, Titles.Default (set by validation).
	Title string `yaml:"-" json:"-"`
	// Titles is the title as written: one string or one per language.
	Titles   Text              `yaml:"title,omitempty" json:"title,omitzero"`
	Labels   map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	SLA      *Contract         `yaml:"sla,omitempty" json:"sla,omitempty"`
	Metrics  *Metrics          `yaml:"metrics,omitempty" json:"metrics,omitempty"`
	Features []Feature         `yaml:"features" json:"features"`
	// Gate is the error-budget gate of the service's features, field by
	// field over the defaults'.
	Gate *Gate `yaml:"gate,omitempty" json:"gate,omitempty"`
}

// Feature is one thing users can do with a service, checked by one or more checks.
type Feature struct {
	Name string `yaml:"name" json:"name"`
	// Title is the title in one language, Titles.Default (set by validation).
	Title string `yaml:"-" json:"-"`
	// Titles is the title as written: one string or one per language.
	Titles            Text                 `yaml:"title,omitempty" json:"title,omitzero"`
	Labels            map[string]string    `yaml:"labels,omitempty" json:"labels,omitempty"`
	Require           Require              `yaml:"require,omitempty" json:"require"`
	SLO               *SLO                 `yaml:"slo,omitempty" json:"slo,omitempty"`
	SLA               *Contract            `yaml:"sla,omitempty" json:"sla,omitempty"`
	Interval          probeconfig.Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	Timeout           probeconfig.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	FailureThreshold  int                  `yaml:"failure_threshold,omitempty" json:"failure_threshold"`
	RecoveryThreshold int                  `yaml:"recovery_threshold,omitempty" json:"recovery_threshold"`
	FailureWindow     *FailureWindow       `yaml:"failure_window,omitempty" json:"failure_window,omitempty"`
	Flap              *Flap                `yaml:"flap,omitempty" json:"flap,omitempty"`
	Maintenance       []Maintenance        `yaml:"maintenance,omitempty" json:"maintenance,omitempty"`
	Metrics           *Metrics             `yaml:"metrics,omitempty" json:"metrics,omitempty"`
	Checks            []Check              `yaml:"checks" json:"checks"`
	// Gate is the feature's error-budget gate, field by field over its
	// service's and the defaults'; validation leaves it nil when no level
	// sets one.
	Gate *Gate `yaml:"gate,omitempty" json:"gate,omitempty"`
}

// SLO is a feature's objective: Objective percent of Window (rolling, or
// a calendar month or week in Timezone), and an optional latency over which
// passing runs count as degraded.
type SLO struct {
	Objective float64              `yaml:"objective,omitempty" json:"objective"`
	Window    SLOWindow            `yaml:"window,omitempty" json:"window"`
	Timezone  string               `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	Latency   probeconfig.Duration `yaml:"latency,omitempty" json:"latency,omitempty"`

	// Location is Timezone loaded by validation (UTC when unset).
	Location *time.Location `yaml:"-" json:"-"`
}

// FailureWindow is `failure_window: {failures: M, runs: N}`: a check is
// failing once at least M of its last N runs failed, instead of after
// failure_threshold failed runs in a row.
type FailureWindow struct {
	Failures int `yaml:"failures" json:"failures"`
	Runs     int `yaml:"runs" json:"runs"`
}

// Flap is `flap: {changes: N, window: 30m}`: a feature whose state changed
// more than N times within the window is flagged flapping. Validation fills
// both fields.
type Flap struct {
	Changes int                  `yaml:"changes,omitempty" json:"changes"`
	Window  probeconfig.Duration `yaml:"window,omitempty" json:"window"`
}

// Maintenance is a maintenance window: one-off (start) or recurring (cron, in
// timezone, default UTC).
type Maintenance struct {
	Start    string               `yaml:"start,omitempty" json:"start,omitempty"`
	Cron     string               `yaml:"cron,omitempty" json:"cron,omitempty"`
	Timezone string               `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	Duration probeconfig.Duration `yaml:"duration" json:"duration"`

	// StartTime and Location are parsed from Start and Timezone by validation.
	StartTime time.Time      `yaml:"-" json:"-"`
	Location  *time.Location `yaml:"-" json:"-"`
}

// Check is one probe of a feature. Its probe blocks (http, dns, messaging) and
// what they do come from the one table of kinds, probes/kinds: exactly one is
// set, and the Kind and Build of Blocks name the kind and build its Prober.
type Check struct {
	Name     string               `yaml:"name" json:"name"`
	Interval probeconfig.Duration `yaml:"interval,omitempty" json:"interval"`
	Timeout  probeconfig.Duration `yaml:"timeout,omitempty" json:"timeout"`
	// Schedule, instead of Interval, runs the check at the times of a
	// five-field cron expression read in Timezone (default UTC), e.g. a heavy
	// journey every weekday at 09:00. Interval is then set by validation to
	// the longest gap between two of those times, which the staleness rule
	// and vigil_check_interval_seconds use.
	Schedule string `yaml:"schedule,omitempty" json:"schedule,omitempty"`
	Timezone string `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	// FailureThreshold, RecoveryThreshold and FailureWindow are how the
	// check's runs confirm its state. Validation resolves them from the
	// check, its feature (for a canary: none), the defaults and the package
	// defaults: the most specific level that sets failure_threshold or
	// failure_window decides which of the two applies; FailureWindow is nil
	// when the threshold does.
	FailureThreshold  int            `yaml:"failure_threshold,omitempty" json:"failure_threshold"`
	RecoveryThreshold int            `yaml:"recovery_threshold,omitempty" json:"recovery_threshold"`
	FailureWindow     *FailureWindow `yaml:"failure_window,omitempty" json:"failure_window,omitempty"`
	Metrics           *Metrics       `yaml:"metrics,omitempty" json:"metrics,omitempty"`
	kinds.Blocks      `yaml:",inline"`

	// Location is Timezone, loaded by validation.
	Location *time.Location `yaml:"-" json:"-"`

	// Fingerprint identifies the check's effective settings; a reload replaces
	// only the checks whose fingerprint changed.
	Fingerprint string `yaml:"-" json:"-"`
}

// Require is how a feature's check results combine: all, any or quorum(N).
type Require struct {
	Mode string // "all", "any", "quorum"
	N    int
}

var quorumRe = regexp.MustCompile(`^quorum\((\d+)\)$`)

// UnmarshalText parses all, any or quorum(N).
func (r *Require) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	switch s {
	case "", "all":
		*r = Require{Mode: "all"}
	case "any":
		*r = Require{Mode: "any"}
	default:
		m := quorumRe.FindStringSubmatch(s)
		if m == nil {
			return fmt.Errorf("require must be all, any or quorum(N), not %q", s)
		}
		n, _ := strconv.Atoi(m[1])
		*r = Require{Mode: "quorum", N: n}
	}
	return nil
}

// MarshalText renders the requirement as written in YAML.
func (r Require) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r Require) String() string {
	switch r.Mode {
	case "", "all":
		return "all"
	case "quorum":
		return fmt.Sprintf("quorum(%d)", r.N)
	}
	return r.Mode
}

// CheckRef names one check and carries its effective settings, in config order.
type CheckRef struct {
	Service *Service
	Feature *Feature
	Check   *Check
	// ID is "service/feature/check".
	ID                string
	Interval, Timeout time.Duration
	// Cron and Location are the check's schedule, when it has one instead of
	// an interval.
	Cron     string
	Location *time.Location
	// Canary is set for the agent's canaries (Config.Canaries): Service and
	// Feature are then CanaryService and CanaryFeature, which are no
	// service's, and their results go to the agent's vantage.
	Canary bool
}

// FeatureCount is how many features the config's services list.
func (c *Config) FeatureCount() int {
	n := 0
	for i := range c.Services {
		n += len(c.Services[i].Features)
	}
	return n
}

// Checks lists every check of the config with its effective interval and
// timeout. The agent's canaries are not among them (see Canaries).
func (c *Config) Checks() []CheckRef {
	n := 0
	for si := range c.Services {
		for _, f := range c.Services[si].Features {
			n += len(f.Checks)
		}
	}
	out := make([]CheckRef, 0, n) // sized: 50,000 refs grown by appending were 30 MB of garbage
	for si := range c.Services {
		s := &c.Services[si]
		for fi := range s.Features {
			f := &s.Features[fi]
			for ci := range f.Checks {
				out = append(out, newCheckRef(s, f, &f.Checks[ci]))
			}
		}
	}
	return out
}

// Canaries lists agent.canaries as checks of service CanaryService, feature
// CanaryFeature (IDs "_agent/vantage/<name>"), so that they are scheduled,
// probed and exported exactly as the services' checks are. The feature is
// only a name holder: its Require is agent.canary_require and its thresholds
// the defaults', but it has no SLO and is never configured as a feature.
func (c *Config) Canaries() []CheckRef {
	if len(c.Agent.Canaries) == 0 {
		return nil
	}
	s := &Service{Name: CanaryService}
	f := &Feature{Name: CanaryFeature, Require: c.Agent.CanaryRequire,
		Interval: c.Defaults.Interval, Timeout: c.Defaults.Timeout,
		FailureThreshold: c.Defaults.FailureThreshold, RecoveryThreshold: c.Defaults.RecoveryThreshold,
		Metrics: c.Agent.Metrics}
	out := make([]CheckRef, 0, len(c.Agent.Canaries))
	for ci := range c.Agent.Canaries {
		ref := newCheckRef(s, f, &c.Agent.Canaries[ci])
		ref.Canary = true
		out = append(out, ref)
	}
	return out
}

func newCheckRef(s *Service, f *Feature, ch *Check) CheckRef {
	return CheckRef{
		Service: s, Feature: f, Check: ch,
		ID:       s.Name + "/" + f.Name + "/" + ch.Name,
		Interval: time.Duration(ch.Interval),
		Timeout:  time.Duration(ch.Timeout),
		Cron:     ch.Schedule,
		Location: ch.Location,
	}
}
