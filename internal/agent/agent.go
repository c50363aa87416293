// Package agent wires one Vigil agent together: it loads the config, opens the
// SLA store, builds one metrics registry labelled with the region, schedules
// every check of this agent's shard, and routes each result to the metrics and
// the SLA engine. It owns reloads: a bad new config is refused and the old one
// keeps running.
package agent

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/internal/delivery"
	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/export"
	"github.com/vigil-monitoring/vigil/internal/maintenance"
	"github.com/vigil-monitoring/vigil/internal/notify"
	"github.com/vigil-monitoring/vigil/internal/schedule"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/browserprobe"
	"github.com/vigil-monitoring/vigil/sla"
)

// Options configure an Agent.
type Options struct {
	ConfigFile  string
	StoragePath string
	// Shard, when set, overrides the config's agent.shard (--agent.shard=I/N).
	Shard  *config.Shard
	Logger *slog.Logger
	// Clock is the SLA engine's clock; nil means real time.
	Clock sla.Clock
	// PushURL, when set, is pushed the exposition every PushInterval
	// (default 15s) as the duty "push", with PushLabels added.
	PushURL, PushLabels string
	PushInterval        time.Duration
	// NotifyWatchInterval is how often incidents and declared maintenance
	// are compared with what subscribers were told (default 10s).
	NotifyWatchInterval time.Duration
}

// Agent is a running Vigil agent.
type Agent struct {
	opts       Options
	logger     *slog.Logger
	reg        *prometheus.Registry // the agent's own small families
	expo       *expo.Exposition     // reg plus the per-check and per-feature families
	metrics    *export.Metrics
	slaMetrics *export.SLAMetrics
	engine     *sla.Engine
	sched      *schedule.Scheduler
	agentID    string
	global     *globalPublisher   // nil without a global block
	maint      *maintenance.Book  // runtime maintenance windows
	browser    *browserprobe.Pool // nil until a check drives a browser
	// deliverer sends scheduled reports (nil without reports); mailReport
	// mails one (nil without a mailer).
	deliverer  *delivery.Deliverer
	mailReport func(ctx context.Context, to, subject string, body []byte, contentType string, job delivery.Job) error
	// notify is the communications service (nil without a storage path);
	// notifyStop ends its loop and closes its store.
	notify     *notify.Service
	notifyStop func()
	// catchUpDone is closed when the start's catch-up of missed reports
	// ended; catchUpCancel ends it early.
	catchUpDone   chan struct{}
	catchUpCancel context.CancelFunc

	mu     sync.Mutex // serialises reloads
	cfg    atomic.Pointer[config.Config]
	checks map[string]*boundCheck
}

// boundCheck is what a check's results are routed to.
type boundCheck struct {
	kind    string
	metrics *export.CheckMetrics
}

// New loads the config, opens the store and starts scheduling. An invalid config
// or an unusable store is an error; nothing is started then.
func New(opts Options) (*Agent, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := config.Load(opts.ConfigFile)
	if err != nil {
		return nil, err
	}
	a := &Agent{opts: opts, logger: opts.Logger, checks: map[string]*boundCheck{}}
	host, _ := os.Hostname()
	a.agentID = cfg.Agent.Region + "@" + host

	a.reg = prometheus.NewRegistry()
	labels := prometheus.Labels{"region": cfg.Agent.Region}
	for k, v := range cfg.Agent.Labels {
		labels[k] = v
	}
	// The big families take region and agent labels as constant labels; the
	// small ones are wrapped.
	wrapped := prometheus.WrapRegistererWith(labels, a.reg)
	wrapped.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.metrics = export.NewMetrics(a.reg, labels)

	reserved := []string{"region"}
	for k := range cfg.Agent.Labels {
		reserved = append(reserved, k)
	}
	slaOpts := sla.Options{Path: opts.StoragePath, Region: cfg.Agent.Region, Clock: opts.Clock, Logger: opts.Logger,
		ScheduledHeartbeat: true, Features: cfg.FeatureCount()}
	if cfg.Global != nil { // the record goes through the store's outbox to JetStream
		slaOpts.Outbox, slaOpts.Agent = true, cfg.Global.AgentID
	}
	if a.maint, err = openMaintenance(opts.StoragePath); err != nil {
		return nil, err
	}
	a.engine, err = sla.Open(slaOpts)
	if err != nil {
		return nil, err
	}
	a.slaMetrics = export.NewSLAMetrics(a.engine, labels, reserved)
	a.expo = expo.New(a.reg, opts.Logger, a.metrics, a.slaMetrics)
	wrapped.MustRegister(export.IncidentCollector(a.engine), export.StorageCollector(a.engine), export.VantageCollector(a.engine),
		newMaintenanceCollector(a))
	jobRuns, jobLastRun := export.NewDutyMetrics(wrapped)
	a.sched, err = schedule.New(schedule.Options{Logger: opts.Logger, Lateness: a.metrics.Lateness, InFlight: a.metrics.InFlight,
		JobRuns: jobRuns, JobLastRun: jobLastRun})
	if err != nil {
		_ = a.engine.Close()
		return nil, err
	}
	// Everything started is stopped again when a later part fails, as at
	// shutdown (each stop does nothing for what did not start).
	for _, start := range []func() error{
		func() error { return a.startDuties(wrapped) },
		func() error { return a.apply(cfg) },
		func() error { return a.startGlobal(cfg, wrapped) },
		func() error { return a.startNotify(cfg, wrapped) },
		func() error { return a.startReports(cfg) },
	} {
		if err := start(); err != nil {
			_ = a.Shutdown(context.Background())
			return nil, err
		}
	}
	return a, nil
}

// Reload re-reads the config file. A bad config is refused and the running one
// kept; vigil_config_last_reload_successful says which happened.
func (a *Agent) Reload() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	cfg, err := config.Load(a.opts.ConfigFile)
	old := a.cfg.Load()
	if err == nil {
		err = sameAgentIdentity(old, cfg)
	}
	if err == nil {
		err = a.applyLocked(cfg)
	}
	if err == nil {
		a.noteGlobalReload(old, cfg)
		if !sameReports(old.Reports, cfg.Reports) {
			a.logger.Warn("config reload: reports changed; restart the agent to apply them (the schedules go on as started)",
				"file", cfg.File)
		}
	}
	if err != nil {
		a.metrics.ReloadSuccess.Set(0)
		a.logger.Error("config reload refused; the previous config keeps running", "file", a.opts.ConfigFile, "err", err)
		return err
	}
	a.logger.Info("config reloaded", "file", a.opts.ConfigFile, "checks", a.sched.Len())
	return nil
}

// sameAgentIdentity refuses changes that would relabel every series mid-flight.
func sameAgentIdentity(old, cfg *config.Config) error {
	if old.Agent.Region != cfg.Agent.Region {
		return fmt.Errorf("%s: agent.region changed from %q to %q: restart the agent to change its region", cfg.File, old.Agent.Region, cfg.Agent.Region)
	}
	if fmt.Sprint(old.Agent.Labels) != fmt.Sprint(cfg.Agent.Labels) {
		return fmt.Errorf("%s: agent.labels changed: restart the agent to change its labels", cfg.File)
	}
	return nil
}

func (a *Agent) apply(cfg *config.Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.applyLocked(cfg); err != nil {
		a.metrics.ReloadSuccess.Set(0)
		return err
	}
	return nil
}

// applyLocked configures the SLA engine and the scheduler for cfg.
func (a *Agent) applyLocked(cfg *config.Config) error {
	if err := a.ensureBrowser(cfg); err != nil {
		return err
	}
	if err := a.makeArtifactDir(); err != nil {
		return err
	}
	shard := cfg.Agent.Shard
	if a.opts.Shard != nil {
		shard = a.opts.Shard
	}
	// Every shard watches its own vantage: the canaries are not sharded.
	canaries := cfg.Canaries()
	refs := cfg.Checks()
	if sharded(shard) || len(canaries) > 0 { // else all of them, as listed
		all := refs
		refs = make([]config.CheckRef, 0, len(all)+len(canaries)) // the canaries join them below
		for _, ref := range all {
			if sharded(shard) && !inShard(ref.Service.Name+"/"+ref.Feature.Name, shard) {
				continue
			}
			refs = append(refs, ref)
		}
	}
	if err := a.engine.ConfigureVantage(VantageSpec(canaries)); err != nil {
		return fmt.Errorf("configure SLA engine: vantage: %w", err)
	}
	specs := FeatureSpecs(refs)
	a.addRuntimeMaintenance(specs, a.now())
	if err := a.engine.Configure(specs); err != nil {
		if old := a.cfg.Load(); old != nil { // the features stay as they were: so do the canaries
			_ = a.engine.ConfigureVantage(VantageSpec(old.Canaries()))
		}
		return fmt.Errorf("configure SLA engine: %w", err)
	}
	// Canaries are scheduled, probed and exported as any check is; only
	// where their results go differs (see slaRef).
	refs = append(refs, canaries...)
	jobs := make([]schedule.Spec, 0, len(refs))
	seen := make(map[string]bool, len(refs)) // sized: grown, it was garbage as large as itself
	for _, ref := range refs {
		seen[ref.ID] = true
		jobs = append(jobs, a.scheduleSpec(ref))
	}
	changes, err := a.sched.Apply(jobs)
	for _, ref := range refs { // built: the plans validation kept for them go
		ref.Check.Forget()
	}
	if err != nil {
		return err
	}
	// Only the features whose profile is not the agent's are listed.
	agentProfile := metricsProfile(cfg.Agent.Metrics)
	profiles := export.FeatureProfiles{}
	for _, ref := range refs {
		if p := metricsProfile(ref.Feature.Metrics); p != agentProfile {
			profiles[[2]string{ref.Service.Name, ref.Feature.Name}] = p
		}
	}
	a.slaMetrics.SetProfilesOver(agentProfile, profiles)
	for id, bc := range a.checks {
		if !seen[id] {
			bc.metrics.Forget()
			delete(a.checks, id)
		}
	}
	a.cfg.Store(cfg)
	a.metrics.ChecksConfigured.Set(float64(len(jobs)))
	a.metrics.ReloadSuccess.Set(1)
	a.metrics.ReloadTimestamp.SetToCurrentTime()
	a.logger.Info("checks scheduled", "added", changes.Added, "replaced", changes.Replaced, "removed", changes.Removed, "kept", changes.Kept,
		"canaries", len(canaries))
	return nil
}

// scheduleSpec binds ref to its metrics (kept across reloads while its kind
// stays) and builds its scheduler job.
func (a *Agent) scheduleSpec(ref config.CheckRef) schedule.Spec {
	kind := ref.Check.Kind()
	bc := a.checks[ref.ID]
	if bc != nil && bc.kind != kind {
		bc.metrics.Forget()
		bc = nil
	}
	if bc == nil {
		bc = &boundCheck{kind: kind, metrics: a.metrics.Check(ref.Service.Name, ref.Feature.Name, ref.Check.Name, kind)}
		a.checks[ref.ID] = bc
	}
	bc.metrics.SetSchedule(ref.Interval, ref.Timeout)
	bc.metrics.SetProfile(metricsProfile(ref.Check.Metrics))
	return schedule.Spec{
		ID: ref.ID, Interval: ref.Interval, Timeout: ref.Timeout, Fingerprint: ref.Check.Fingerprint,
		Cron: ref.Cron, Location: ref.Location,
		Build: func() (probes.Prober, error) {
			p, err := ref.Check.Build(a.probeOptions(ref.ID))
			if err != nil || ref.Canary {
				return p, err
			}
			return &pausable{Prober: p, a: a, target: targetOf(ref.Service, ref.Feature)}, nil
		},
		OnResult: a.onResult(ref, bc, a.slaRef(ref)),
	}
}

// metricsProfile is the profile a validated metrics block names.
func metricsProfile(m *config.Metrics) export.Profile {
	if m == nil {
		return 0 // the default
	}
	p, _ := export.ParseProfile(m.Profile) // validated by config
	return p
}

// slaRef is where the SLA engine takes ref's results: the vantage for a
// canary, its feature for any other check.
func (a *Agent) slaRef(ref config.CheckRef) *sla.CheckRef {
	if ref.Canary {
		return a.engine.Canary(ref.Check.Name)
	}
	return a.engine.Check(ref.Service.Name, ref.Feature.Name, ref.Check.Name)
}

func (a *Agent) onResult(ref config.CheckRef, bc *boundCheck, slaRef *sla.CheckRef) func(*probes.Result) {
	var lastOK atomic.Int32 // 0 unknown, 1 ok, 2 failing
	id := ref.ID
	return func(r *probes.Result) {
		if id, ok := paused(r); ok { // not run: the check is blind, not failing
			if slaRef != nil {
				slaRef.Observe(sla.Observation{Start: r.Start, AgentFault: "paused by maintenance " + id})
			}
			return
		}
		bc.metrics.Observe(r)
		if slaRef != nil {
			o := sla.Observation{Start: r.Start, Duration: r.Duration, Success: r.Success, Error: r.ErrorString(),
				AgentFault: r.AgentFault()}
			if r.Browser != nil {
				o.Artifact = r.Browser.Screenshot
			}
			slaRef.Observe(o)
		}
		state := int32(1)
		if !r.Success {
			state = 2
		}
		if prev := lastOK.Swap(state); prev != state {
			if state == 2 {
				a.logger.Warn("check failing", "check", id, "err", r.Err)
			} else if prev == 2 {
				a.logger.Info("check passing again", "check", id)
			}
		}
	}
}

// inShard reports whether the feature key falls in shard (nil: all do).
func inShard(key string, shard *config.Shard) bool {
	if !sharded(shard) {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32()%uint32(shard.Count)) == shard.Index
}

// sharded reports whether shard splits the checks: unsharded, no key is
// built to be hashed.
func sharded(shard *config.Shard) bool { return shard != nil && shard.Count > 1 }

// FeatureSpecs turns the checks of a config (grouped by feature, in order) into
// what the SLA engine needs.
func FeatureSpecs(refs []config.CheckRef) []sla.FeatureSpec {
	// Sized up front: grown by appending, the copies of 50,000 specs were
	// about 40 MB of a start's garbage. Refs grouped by feature make the count
	// exact, otherwise a bound.
	n := 0
	for i := range refs {
		if i == 0 || refs[i].Feature != refs[i-1].Feature {
			n++
		}
	}
	out := make([]sla.FeatureSpec, 0, n)
	index := make(map[*config.Feature]int, n)
	for _, ref := range refs {
		i, ok := index[ref.Feature]
		if !ok {
			i = len(out)
			index[ref.Feature] = i
			out = append(out, featureSpec(ref.Service, ref.Feature))
		}
		out[i].Checks = append(out[i].Checks, checkSpec(ref))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Feature < out[j].Feature
	})
	return out
}

// featureSpec is feature f of service s without its checks.
func featureSpec(s *config.Service, f *config.Feature) sla.FeatureSpec {
	labels := map[string]string{}
	for k, v := range s.Labels {
		labels[k] = v
	}
	for k, v := range f.Labels {
		labels[k] = v
	}
	spec := sla.FeatureSpec{
		Service: s.Name, Feature: f.Name, ServiceTitle: s.Title, Title: f.Title, Labels: labels,
		Require:           slaRequire(f.Require),
		Objective:         math.Round(f.SLO.Objective*1e7) / 1e9, // 99.9 -> 0.999 exactly
		Window:            f.SLO.Window.Rolling,
		Latency:           time.Duration(f.SLO.Latency),
		FailureThreshold:  f.FailureThreshold,
		RecoveryThreshold: f.RecoveryThreshold,
	}
	spec.Calendar, spec.Gate = agentCalendar(f.SLO), agentGate(f.Gate)
	if f.Flap != nil {
		spec.Flap = sla.Flap{Changes: f.Flap.Changes, Window: time.Duration(f.Flap.Window)}
	}
	for _, m := range f.Maintenance {
		spec.Maintenance = append(spec.Maintenance, sla.Maintenance{Start: m.StartTime, Cron: m.Cron, Location: m.Location, Duration: time.Duration(m.Duration)})
	}
	return spec
}

// checkSpec is what the SLA engine needs of one check or canary: its
// schedule and how its runs confirm its state, resolved by config.
func checkSpec(ref config.CheckRef) sla.CheckSpec {
	ch := ref.Check
	spec := sla.CheckSpec{Name: ch.Name, Kind: ch.Kind(), Interval: ref.Interval, Timeout: ref.Timeout,
		FailureThreshold: ch.FailureThreshold, RecoveryThreshold: ch.RecoveryThreshold}
	if w := ch.FailureWindow; w != nil {
		spec.FailureWindow = sla.FailureWindow{Failures: w.Failures, Runs: w.Runs}
	}
	return spec
}

// VantageSpec turns the agent's canaries (config.Config.Canaries) into the
// SLA engine's vantage; none turns it off.
func VantageSpec(canaries []config.CheckRef) sla.VantageSpec {
	if len(canaries) == 0 {
		return sla.VantageSpec{}
	}
	f := canaries[0].Feature // agent.canary_require and the defaults' thresholds
	v := sla.VantageSpec{Require: slaRequire(f.Require), FailureThreshold: f.FailureThreshold, RecoveryThreshold: f.RecoveryThreshold,
		Canaries: make([]sla.CheckSpec, 0, len(canaries))}
	for _, ref := range canaries {
		v.Canaries = append(v.Canaries, checkSpec(ref))
	}
	return v
}

func slaRequire(r config.Require) sla.Require {
	switch r.Mode {
	case "any":
		return sla.Require{Mode: sla.RequireAny}
	case "quorum":
		return sla.Require{Mode: sla.RequireQuorum, N: r.N}
	}
	return sla.Require{Mode: sla.RequireAll}
}

// Config returns the running config.
func (a *Agent) Config() *config.Config { return a.cfg.Load() }

// Exposition is the agent's metrics: /metrics, push, and a Gatherer.
func (a *Agent) Exposition() *expo.Exposition { return a.expo }

// Engine is the SLA engine.
func (a *Agent) Engine() *sla.Engine { return a.engine }

// Ready reports whether the config is loaded and the store open.
func (a *Agent) Ready() bool { return a.cfg.Load() != nil && a.engine.Ready() }

// Shutdown stops scheduling, waits for runs in flight up to their timeout (or
// ctx), and closes the store. It is safe to call once.
func (a *Agent) Shutdown(ctx context.Context) error {
	err := a.sched.Stop(ctx)
	a.stopReports()
	a.stopNotify()
	a.stopBrowser()
	a.stopGlobal() // before the store closes under it
	return errors.Join(err, a.engine.Close())
}
