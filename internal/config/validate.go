package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/vigil-monitoring/vigil/probes/kinds"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

var (
	nameRe  = regexp.MustCompile(`^[a-z0-9_-]+$`)
	labelRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	// Labels the agent sets itself; config labels may not take them.
	reservedLabels = map[string]bool{"region": true, "service": true, "feature": true, "check": true, "kind": true,
		"state": true, "window": true, "result": true, "phase": true, "title": true, "le": true, "job": true, "instance": true}
)

// A one-off maintenance window lies between the Unix epoch and the last
// instant that Unix nanoseconds hold.
var (
	minMaintenance = time.Unix(0, 0).UTC()
	maxMaintenance = time.Unix(0, math.MaxInt64).UTC().Truncate(time.Second)
)

// cronParser reads the 5-field cron of recurring maintenance windows.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// validate applies defaults and checks everything that decoding cannot. A key
// left out takes its default; a key set to zero where a default exists is an
// error, not the default in disguise.
func (p *parser) validate(c *Config) {
	p.agent(&c.Agent)
	p.browser(&c.Agent.Browser)
	p.global(c)
	p.reports(c)
	p.web(&c.Web)
	p.notify(c)
	defaultSLO, defaultFlap := p.defaults(&c.Defaults)
	defaultGate := p.gate("defaults.gate", c.Defaults.Gate, nil)
	p.canaries(&c.Agent, &c.Defaults)
	if len(c.Services) == 0 {
		p.add("services", "at least one service is required")
	}
	services := map[string]int{}
	for si := range c.Services {
		s := &c.Services[si]
		sp := fmt.Sprintf("services[%d]", si)
		p.name(sp, ".name", "service", s.Name, services, si)
		s.Title = s.Titles.Default
		if strings.HasPrefix(s.Name, "_") {
			p.add(sp+".name", "service names starting with \"_\" are reserved for the agent itself (its canaries are exported as service %q)", CanaryService)
		}
		p.labels(sp, ".labels", s.Labels)
		serviceGate := p.gate(sp+".gate", s.Gate, defaultGate)
		p.contract(sp+".sla", s.SLA)
		if len(s.Features) == 0 {
			p.add(sp+".features", "service %q needs at least one feature", s.Name)
		}
		features := map[string]int{}
		for fi := range s.Features {
			fp := fmt.Sprintf("%s.features[%d]", sp, fi)
			p.name(fp, ".name", "feature", s.Features[fi].Name, features, fi)
			s.Features[fi].Title = s.Features[fi].Titles.Default
			p.feature(fp, &s.Features[fi], &c.Defaults, defaultSLO, defaultFlap)
			s.Features[fi].Gate = p.gate(fp+".gate", s.Features[fi].Gate, serviceGate)
		}
	}
	p.metricsProfiles(c)
}

// metricsProfiles checks every metrics.profile and fills each service's,
// feature's and check's (the canaries' too) from the level above: the agent's,
// else standard.
func (p *parser) metricsProfiles(c *Config) {
	agent := p.metrics(&c.Agent.Metrics, Metrics{Profile: "standard"}, func() string { return "agent.metrics" })
	for ci := range c.Agent.Canaries {
		p.metrics(&c.Agent.Canaries[ci].Metrics, agent, func() string { return fmt.Sprintf("agent.canaries[%d].metrics", ci) })
	}
	for si := range c.Services {
		s := &c.Services[si]
		service := p.metrics(&s.Metrics, agent, func() string { return fmt.Sprintf("services[%d].metrics", si) })
		for fi := range s.Features {
			f := &s.Features[fi]
			feature := p.metrics(&f.Metrics, service, func() string { return fmt.Sprintf("services[%d].features[%d].metrics", si, fi) })
			for ci := range f.Checks {
				p.metrics(&f.Checks[ci].Metrics, feature, func() string {
					return fmt.Sprintf("services[%d].features[%d].checks[%d].metrics", si, fi, ci)
				})
			}
		}
	}
}

// metrics checks the metrics block m and fills it, or its profile, from up;
// it returns what the levels below inherit. path names the block, built only
// for an error: at 50,000 checks the paths were 4 MB of garbage.
func (p *parser) metrics(m **Metrics, up Metrics, path func() string) Metrics {
	if *m == nil {
		*m = &Metrics{}
	}
	switch {
	case (*m).Profile == "":
		(*m).Profile = up.Profile
	case !slices.Contains(MetricsProfiles, (*m).Profile):
		p.add(path()+".profile", "%q must be one of %s", (*m).Profile, strings.Join(MetricsProfiles, ", "))
		(*m).Profile = up.Profile
	}
	return **m
}

func (p *parser) agent(a *Agent) {
	if a.Region == "" {
		p.add("agent.region", "is required (it labels every series this agent exports)")
	} else if !nameRe.MatchString(a.Region) {
		p.add("agent.region", "%q must match [a-z0-9_-]+", a.Region)
	}
	p.labels("agent", ".labels", a.Labels)
	if s := a.Shard; s != nil {
		if s.Count < 1 {
			p.add("agent.shard.count", "must be at least 1")
		} else if s.Index < 0 || s.Index >= s.Count {
			p.add("agent.shard.index", "must be in [0, %d)", s.Count)
		}
	}
}

// canaries fills and checks agent.canaries, which inherit from the defaults
// as a feature's checks inherit from their feature.
func (p *parser) canaries(a *Agent, d *Defaults) {
	if a.CanaryRequire.Mode == "" {
		a.CanaryRequire.Mode = "all"
	}
	if len(a.Canaries) == 0 {
		if p.present("agent.canary_require") {
			p.add("agent.canary_require", "applies to agent.canaries, which is empty")
		}
		return
	}
	p.require("agent", ".canary_require", a.CanaryRequire, len(a.Canaries), "canaries", "agent.canaries")
	p.checks("agent.canaries", "canary", a.Canaries, level{interval: d.Interval, timeout: d.Timeout,
		confirm: confirm{failure: d.FailureThreshold, recovery: d.RecoveryThreshold, window: d.FailureWindow}})
}

// defaults fills the defaults block and returns the SLO and flap features
// inherit.
func (p *parser) defaults(d *Defaults) (SLO, Flap) {
	p.defaultDuration("defaults", ".interval", &d.Interval, probeconfig.Duration(DefaultInterval))
	p.defaultDuration("defaults", ".timeout", &d.Timeout, probeconfig.Duration(min(DefaultTimeout, time.Duration(d.Interval)/2)))
	p.positiveDuration("defaults", ".interval", d.Interval)
	if d.Timeout >= d.Interval {
		p.add("defaults.timeout", "%s must be less than interval %s", d.Timeout, d.Interval)
	}
	p.confirmation("defaults", &d.FailureThreshold, &d.RecoveryThreshold, &d.FailureWindow,
		confirm{failure: DefaultFailureThreshold, recovery: DefaultRecoveryThreshold})
	p.flap("defaults.flap", &d.Flap, Flap{Changes: DefaultFlapChanges, Window: probeconfig.Duration(DefaultFlapWindow)})
	defaultSLO := SLO{Objective: DefaultObjective, Window: RollingWindow(DefaultWindow), Location: time.UTC}
	if d.SLO != nil {
		p.slo("defaults.slo", d.SLO, defaultSLO)
		defaultSLO = *d.SLO
	}
	return defaultSLO, *d.Flap
}

// feature fills feature f at path fp from the defaults and checks it.
func (p *parser) feature(fp string, f *Feature, d *Defaults, defaultSLO SLO, defaultFlap Flap) {
	p.labels(fp, ".labels", f.Labels)
	p.contract(fp+".sla", f.SLA)
	if f.Require.Mode == "" {
		f.Require.Mode = "all"
	}
	p.require(fp, ".require", f.Require, len(f.Checks), "checks", "the feature")
	if f.SLO == nil {
		cp := defaultSLO
		f.SLO = &cp
	} else {
		p.slo(fp+".slo", f.SLO, defaultSLO)
	}
	p.defaultDuration(fp, ".interval", &f.Interval, d.Interval)
	p.defaultDuration(fp, ".timeout", &f.Timeout, d.Timeout)
	p.confirmation(fp, &f.FailureThreshold, &f.RecoveryThreshold, &f.FailureWindow,
		confirm{failure: d.FailureThreshold, recovery: d.RecoveryThreshold, window: d.FailureWindow})
	p.flap(fp+".flap", &f.Flap, defaultFlap)
	for mi := range f.Maintenance {
		p.maintenance(fmt.Sprintf("%s.maintenance[%d]", fp, mi), &f.Maintenance[mi])
	}
	if len(f.Checks) == 0 {
		p.add(fp+".checks", "feature %q needs at least one check", f.Name)
	}
	p.checks(fp+".checks", "check", f.Checks, level{interval: f.Interval, timeout: f.Timeout,
		confirm: confirm{failure: f.FailureThreshold, recovery: f.RecoveryThreshold, window: f.FailureWindow}})
}

// require checks that a quorum(N) lies between 1 and the n checks it counts
// (what: "checks" or "canaries", of whose).
func (p *parser) require(path, key string, r Require, n int, what, whose string) {
	if r.Mode == "quorum" && (r.N < 1 || r.N > n) {
		p.add(path+key, "quorum(%d) needs between 1 and %d %s (%s has %d)", r.N, n, what, whose, n)
	}
}

// level is what a feature (or, for the canaries, the defaults) hands down to
// its checks.
type level struct {
	interval, timeout probeconfig.Duration
	confirm
}

// confirm is how runs confirm a check's state: failure_threshold,
// recovery_threshold, and failure_window (nil: the threshold applies).
type confirm struct {
	failure, recovery int
	window            *FailureWindow
}

// checks fills the checks at path (a feature's, or the canaries) from up and
// checks them; what names them in errors ("check", "canary").
func (p *parser) checks(path, what string, checks []Check, up level) {
	names := map[string]int{}
	for ci := range checks {
		ch := &checks[ci]
		cp := path + "[" + strconv.Itoa(ci) + "]"
		p.name(cp, ".name", what, ch.Name, names, ci)
		if ch.Schedule != "" || ch.Timezone != "" {
			p.cronSchedule(cp, ch)
		}
		p.defaultDuration(cp, ".interval", &ch.Interval, up.interval)
		// An inherited timeout never exceeds the check's own interval.
		timeout := up.timeout
		if timeout >= ch.Interval {
			timeout = ch.Interval / 2
		}
		p.defaultDuration(cp, ".timeout", &ch.Timeout, timeout)
		p.positiveDuration(cp, ".interval", ch.Interval)
		p.positiveDuration(cp, ".timeout", ch.Timeout)
		if ch.Timeout >= ch.Interval {
			p.add(cp+".timeout", "%s must be less than interval %s", ch.Timeout, ch.Interval)
		}
		p.confirmation(cp, &ch.FailureThreshold, &ch.RecoveryThreshold, &ch.FailureWindow, up.confirm)
		p.probe(cp, ch)
	}
}

// confirmation resolves the failure_threshold, recovery_threshold and
// failure_window of the level at path (defaults, a feature, a check) from
// the level above, up. recovery_threshold inherits on its own; of
// failure_threshold and failure_window, the most specific level that sets
// either decides which applies, and one level may not set both.
func (p *parser) confirmation(path string, failure, recovery *int, window **FailureWindow, up confirm) {
	setsThreshold := p.has(path, ".failure_threshold")
	if *window != nil && setsThreshold {
		p.add(path+".failure_window", "set either failure_threshold (failed runs in a row) or failure_window (failed runs of the last N), not both")
	}
	p.defaultInt(path, ".failure_threshold", failure, up.failure)
	p.defaultInt(path, ".recovery_threshold", recovery, up.recovery)
	p.runs(path, ".failure_threshold", *failure)
	p.runs(path, ".recovery_threshold", *recovery)
	switch {
	case *window != nil:
		p.failureWindow(path+".failure_window", *window)
	case !setsThreshold:
		*window = up.window
	}
}

// failureWindow checks failure_window: 1 <= failures <= runs <= MaxRuns.
func (p *parser) failureWindow(path string, w *FailureWindow) {
	ok := true
	for _, f := range []struct {
		key string
		n   int
	}{{"failures", w.Failures}, {"runs", w.Runs}} {
		switch {
		case f.n == 0 && !p.present(path+"."+f.key):
			p.add(path, "needs %s: {failures: M, runs: N} fails the check once M of its last N runs failed", f.key)
			ok = false
		case f.n < 1 || f.n > MaxRuns:
			p.add(path+"."+f.key, "must be between 1 and %d, not %d", MaxRuns, f.n)
			ok = false
		}
	}
	if ok && w.Failures > w.Runs {
		p.add(path+".failures", "%d must not be more than runs (%d)", w.Failures, w.Runs)
	}
}

// flap fills *f at path field by field from def (the defaults' flap, or the
// package default) and checks it.
func (p *parser) flap(path string, f **Flap, def Flap) {
	if *f == nil {
		*f = &Flap{}
	}
	fl := *f
	p.defaultInt(path, ".changes", &fl.Changes, def.Changes)
	p.defaultDuration(path, ".window", &fl.Window, def.Window)
	if fl.Changes < 1 {
		p.add(path+".changes", "must be at least 1, not %d", fl.Changes)
	}
	p.positiveDuration(path, ".window", fl.Window)
}

// defaultDuration gives *v its default when the key is left out; a zero the
// config wrote is an error (and the default stands in, so that what inherits
// from it is not reported again).
func (p *parser) defaultDuration(path, key string, v *probeconfig.Duration, def probeconfig.Duration) {
	if *v != 0 {
		return
	}
	if p.has(path, key) {
		p.add(path+key, "must be > 0 (leave the key out for the default, %s)", def)
	}
	*v = def
}

// defaultInt is defaultDuration for counts.
func (p *parser) defaultInt(path, key string, v *int, def int) {
	if *v != 0 {
		return
	}
	if p.has(path, key) {
		p.add(path+key, "must be > 0 (leave the key out for the default, %d)", def)
	}
	*v = def
}

func (p *parser) name(path, key, what, name string, seen map[string]int, index int) {
	switch {
	case name == "":
		p.add(path+key, "%s name is required", what)
	case !nameRe.MatchString(name):
		p.add(path+key, "%s name %q must match [a-z0-9_-]+", what, name)
	default:
		if prev, dup := seen[name]; dup {
			p.add(path+key, "duplicate %s name %q (also entry %d)", what, name, prev)
		}
		seen[name] = index
	}
}

func (p *parser) labels(path, key string, labels map[string]string) {
	for k := range labels {
		switch {
		case !labelRe.MatchString(k):
			p.add(path+key+"."+k, "label name %q must match [a-zA-Z_][a-zA-Z0-9_]*", k)
		case reservedLabels[k]:
			p.add(path+key+"."+k, "label name %q is set by vigil itself", k)
		}
	}
}

func (p *parser) positiveDuration(path, key string, d probeconfig.Duration) {
	if d <= 0 {
		p.add(path+key, "must be a positive duration")
	}
}

// runs checks a count of runs: failure_threshold, recovery_threshold.
func (p *parser) runs(path, key string, n int) {
	if n < 1 || n > MaxRuns {
		p.add(path+key, "must be between 1 and %d runs, not %d", MaxRuns, n)
	}
}

func (p *parser) slo(path string, s *SLO, def SLO) {
	if s.Objective == 0 && p.present(path+".objective") {
		p.add(path+".objective", "must be a percentage in (0, 100), like 99.9, not 0 (leave the key out for the default, %v)", def.Objective)
	}
	if s.Objective == 0 {
		s.Objective = def.Objective
	}
	if s.Window.IsZero() {
		if p.present(path + ".window") {
			p.add(path+".window", "must be > 0 (leave the key out for the default, %s)", def.Window)
		}
		s.Window = def.Window
	}
	p.sloTimezone(path, s, def)
	if s.Latency == 0 && p.present(path+".latency") {
		p.add(path+".latency", "must be > 0 (leave the key out for no latency objective, or to inherit %s)", def.Latency)
	}
	if s.Latency == 0 {
		s.Latency = def.Latency
	}
	switch {
	case s.Objective <= 0 || s.Objective >= 100:
		p.add(path+".objective", "must be a percentage in (0, 100), like 99.9, not %v", s.Objective)
	case math.Round(s.Objective*1e7) >= 1e9:
		// The SLA engine keeps the objective as a ratio to 9 decimal places.
		p.add(path+".objective", "%v rounds to 100%%: at most 7 decimal places count", s.Objective)
	}
	if s.Window.Calendar == "" && s.Window.Rolling < time.Hour {
		p.add(path+".window", "must be at least 1h, not %s", s.Window)
	}
	if s.Latency < 0 {
		p.add(path+".latency", "must not be negative")
	}
}

// cronSchedule checks a check's schedule and timezone and sets its Interval
// to the longest gap between two scheduled times.
func (p *parser) cronSchedule(path string, ch *Check) {
	if ch.Schedule == "" {
		p.add(path+".timezone", "applies to schedule, which is not set")
		return
	}
	if p.present(path + ".interval") {
		p.add(path+".schedule", "set either interval or schedule, not both")
	}
	ch.Location = time.UTC
	if ch.Timezone != "" {
		loc, err := time.LoadLocation(ch.Timezone)
		if err != nil {
			p.add(path+".timezone", "unknown time zone %q", ch.Timezone)
			return
		}
		ch.Location = loc
	}
	if strings.Contains(ch.Schedule, "TZ=") {
		p.add(path+".schedule", "give the time zone as timezone, not in the expression")
		return
	}
	sched, err := cronParser.Parse(ch.Schedule)
	if err != nil {
		p.add(path+".schedule", "cron expression %q: %v", ch.Schedule, err)
		return
	}
	gap := longestGap(sched, ch.Location)
	if gap <= 0 {
		p.add(path+".schedule", "cron expression %q names no time within a year", ch.Schedule)
		return
	}
	ch.Interval = probeconfig.Duration(gap)
}

// longestGap is the longest time between two consecutive times of sched in
// loc over a year from a fixed Monday (so that the result does not depend
// on the day the config is read), or 0 when it names fewer than two.
func longestGap(sched cron.Schedule, loc *time.Location) time.Duration {
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, loc)
	end := start.AddDate(1, 0, 0)
	var gap time.Duration
	prev := sched.Next(start.Add(-time.Second))
	if prev.IsZero() || prev.After(end) {
		return 0
	}
	for n := 0; n < 600_000; n++ {
		next := sched.Next(prev)
		if next.IsZero() || next.After(end) {
			break
		}
		gap = max(gap, next.Sub(prev))
		prev = next
	}
	if gap == 0 {
		// One time a year: the gap is the year.
		return end.Sub(start)
	}
	return gap
}

func (p *parser) maintenance(path string, m *Maintenance) {
	if m.Duration <= 0 {
		p.add(path+".duration", "is required and must be positive")
	}
	m.Location = time.UTC
	if m.Timezone != "" {
		loc, err := time.LoadLocation(m.Timezone)
		if err != nil {
			p.add(path+".timezone", "unknown time zone %q", m.Timezone)
		} else {
			m.Location = loc
		}
	}
	switch {
	case m.Start != "" && m.Cron != "":
		p.add(path, "set either start (one-off) or cron (recurring), not both")
	case m.Start != "":
		t, err := time.Parse(time.RFC3339, m.Start)
		switch {
		case err != nil:
			p.add(path+".start", "must be an RFC 3339 time like 2026-12-01T02:00:00+09:00, not %q", m.Start)
		case t.Before(minMaintenance) || t.After(maxMaintenance.Add(-time.Duration(max(m.Duration, 0)))):
			// The SLA engine keeps times as Unix nanoseconds (and reads the zero
			// time as "no start").
			p.add(path+".start", "%q is out of range: a window must lie between %s and %s",
				m.Start, minMaintenance.Format(time.RFC3339), maxMaintenance.Format(time.RFC3339))
		}
		m.StartTime = t
	case m.Cron != "":
		if _, err := cronParser.Parse(m.Cron); err != nil {
			p.add(path+".cron", "bad cron expression %q: %v", m.Cron, err)
		}
	default:
		p.add(path, "needs start (one-off) or cron (recurring)")
	}
}

// probe checks that exactly one kind is set and lets the kind validate its block.
func (p *parser) probe(path string, ch *Check) {
	set := ch.Set()
	if len(set) != 1 {
		p.add(path, "check %q needs exactly one of %s (has %d)", ch.Name, strings.Join(kinds.Names(), ", "), len(set))
		return
	}
	if err := set[0].Validate(&ch.Blocks); err != nil {
		p.fieldErrors(path+"."+set[0].Name, err)
	}
}

// fieldErrors reports a probe's validation errors at their keys' lines.
func (p *parser) fieldErrors(base string, err error) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			p.fieldErrors(base, e)
		}
		return
	}
	var fe *probeconfig.FieldError
	if errors.As(err, &fe) {
		path := base
		if fe.Path != "" {
			if fe.Path[0] == '[' {
				path += fe.Path
			} else {
				path += "." + fe.Path
			}
		}
		p.add(path, "%v", fe.Err)
		return
	}
	p.add(base, "%v", err)
}
