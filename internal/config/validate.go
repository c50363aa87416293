package config

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/vigil-monitoring/vigil/probes"
)

var (
	nameRe  = regexp.MustCompile(`^[a-z0-9_-]+$`)
	labelRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	// Labels the agent sets itself; config labels may not take them.
	reservedLabels = map[string]bool{"region": true, "service": true, "feature": true, "check": true, "kind": true,
		"state": true, "window": true, "result": true, "phase": true, "title": true, "le": true, "job": true, "instance": true}
)

// cronParser reads the 5-field cron of recurring maintenance windows.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// validate applies defaults and checks everything that decoding cannot.
func (p *parser) validate(c *Config) {
	if c.Agent.Region == "" {
		p.add("agent.region", "is required (it labels every series this agent exports)")
	} else if !nameRe.MatchString(c.Agent.Region) {
		p.add("agent.region", "%q must match [a-z0-9_-]+", c.Agent.Region)
	}
	p.labels("agent.labels", c.Agent.Labels)
	if s := c.Agent.Shard; s != nil {
		if s.Count < 1 {
			p.add("agent.shard.count", "must be at least 1")
		} else if s.Index < 0 || s.Index >= s.Count {
			p.add("agent.shard.index", "must be in [0, %d)", s.Count)
		}
	}

	d := &c.Defaults
	if d.Interval == 0 {
		d.Interval = probes.Duration(DefaultInterval)
	}
	if d.Timeout == 0 {
		d.Timeout = probes.Duration(min(DefaultTimeout, time.Duration(d.Interval)/2))
	}
	if d.FailureThreshold == 0 {
		d.FailureThreshold = DefaultFailureThreshold
	}
	if d.RecoveryThreshold == 0 {
		d.RecoveryThreshold = DefaultRecoveryThreshold
	}
	p.positiveDuration("defaults.interval", d.Interval)
	if d.Timeout >= d.Interval {
		p.add("defaults.timeout", "%s must be less than interval %s", d.Timeout, d.Interval)
	}
	p.threshold("defaults.failure_threshold", d.FailureThreshold)
	p.threshold("defaults.recovery_threshold", d.RecoveryThreshold)
	defaultSLO := SLO{Objective: DefaultObjective, Window: probes.Duration(DefaultWindow)}
	if d.SLO != nil {
		p.slo("defaults.slo", d.SLO, defaultSLO)
		defaultSLO = *d.SLO
	}

	if len(c.Services) == 0 {
		p.add("services", "at least one service is required")
	}
	services := map[string]int{}
	for si := range c.Services {
		s := &c.Services[si]
		sp := fmt.Sprintf("services[%d]", si)
		p.name(sp+".name", "service", s.Name, services, si)
		p.labels(sp+".labels", s.Labels)
		if len(s.Features) == 0 {
			p.add(sp+".features", "service %q needs at least one feature", s.Name)
		}
		features := map[string]int{}
		for fi := range s.Features {
			f := &s.Features[fi]
			fp := fmt.Sprintf("%s.features[%d]", sp, fi)
			p.name(fp+".name", "feature", f.Name, features, fi)
			p.labels(fp+".labels", f.Labels)
			if f.Require.Mode == "" {
				f.Require.Mode = "all"
			}
			if f.Require.Mode == "quorum" && (f.Require.N < 1 || f.Require.N > len(f.Checks)) {
				p.add(fp+".require", "quorum(%d) needs between 1 and %d checks (the feature has %d)", f.Require.N, len(f.Checks), len(f.Checks))
			}
			if f.SLO == nil {
				cp := defaultSLO
				f.SLO = &cp
			} else {
				p.slo(fp+".slo", f.SLO, defaultSLO)
			}
			if f.Interval == 0 {
				f.Interval = d.Interval
			}
			if f.Timeout == 0 {
				f.Timeout = d.Timeout
			}
			if f.FailureThreshold == 0 {
				f.FailureThreshold = d.FailureThreshold
			}
			if f.RecoveryThreshold == 0 {
				f.RecoveryThreshold = d.RecoveryThreshold
			}
			p.threshold(fp+".failure_threshold", f.FailureThreshold)
			p.threshold(fp+".recovery_threshold", f.RecoveryThreshold)
			for mi := range f.Maintenance {
				p.maintenance(fmt.Sprintf("%s.maintenance[%d]", fp, mi), &f.Maintenance[mi])
			}
			if len(f.Checks) == 0 {
				p.add(fp+".checks", "feature %q needs at least one check", f.Name)
			}
			checks := map[string]int{}
			for ci := range f.Checks {
				ch := &f.Checks[ci]
				cp := fmt.Sprintf("%s.checks[%d]", fp, ci)
				p.name(cp+".name", "check", ch.Name, checks, ci)
				if ch.Interval == 0 {
					ch.Interval = f.Interval
				}
				if ch.Timeout == 0 {
					// An inherited timeout never exceeds the check's own interval.
					ch.Timeout = f.Timeout
					if ch.Timeout >= ch.Interval {
						ch.Timeout = ch.Interval / 2
					}
				}
				p.positiveDuration(cp+".interval", ch.Interval)
				p.positiveDuration(cp+".timeout", ch.Timeout)
				if ch.Timeout >= ch.Interval {
					p.add(cp+".timeout", "%s must be less than interval %s", ch.Timeout, ch.Interval)
				}
				p.probe(cp, ch)
			}
		}
	}
}

func (p *parser) name(path, what, name string, seen map[string]int, index int) {
	switch {
	case name == "":
		p.add(path, "%s name is required", what)
	case !nameRe.MatchString(name):
		p.add(path, "%s name %q must match [a-z0-9_-]+", what, name)
	default:
		if prev, dup := seen[name]; dup {
			p.add(path, "duplicate %s name %q (also entry %d)", what, name, prev)
		}
		seen[name] = index
	}
}

func (p *parser) labels(path string, labels map[string]string) {
	for k := range labels {
		switch {
		case !labelRe.MatchString(k):
			p.add(path+"."+k, "label name %q must match [a-zA-Z_][a-zA-Z0-9_]*", k)
		case reservedLabels[k]:
			p.add(path+"."+k, "label name %q is set by vigil itself", k)
		}
	}
}

func (p *parser) positiveDuration(path string, d probes.Duration) {
	if d <= 0 {
		p.add(path, "must be a positive duration")
	}
}

func (p *parser) threshold(path string, n int) {
	if n < 1 || n > 1000 {
		p.add(path, "must be between 1 and 1000, not %d", n)
	}
}

func (p *parser) slo(path string, s *SLO, def SLO) {
	if s.Objective == 0 {
		s.Objective = def.Objective
	}
	if s.Window == 0 {
		s.Window = def.Window
	}
	if s.Latency == 0 {
		s.Latency = def.Latency
	}
	if s.Objective <= 0 || s.Objective >= 100 {
		p.add(path+".objective", "must be a percentage in (0, 100), like 99.9, not %v", s.Objective)
	}
	if s.Window < probes.Duration(time.Hour) {
		p.add(path+".window", "must be at least 1h, not %s", s.Window)
	}
	if s.Latency < 0 {
		p.add(path+".latency", "must not be negative")
	}
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
		if err != nil {
			p.add(path+".start", "must be an RFC 3339 time like 2026-12-01T02:00:00+09:00, not %q", m.Start)
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
	kinds := 0
	for _, set := range []bool{ch.HTTP != nil, ch.DNS != nil, ch.Messaging != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		p.add(path, "check %q needs exactly one of http, dns, messaging (has %d)", ch.Name, kinds)
		return
	}
	var err error
	var block string
	switch {
	case ch.HTTP != nil:
		block, err = "http", ch.HTTP.Validate()
	case ch.DNS != nil:
		block, err = "dns", ch.DNS.Validate()
	case ch.Messaging != nil:
		block, err = "messaging", ch.Messaging.Validate()
	}
	p.fieldErrors(path+"."+block, err)
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
	var fe *probes.FieldError
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
