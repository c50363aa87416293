// Package sla turns check results into what they mean for a feature: its state
// (up, degraded, recovering, down, maintenance, unknown), outage windows,
// availability over rolling windows, error budget and burn rates, on an
// injected clock. It keeps that history through a store.Store (the bbolt file
// of sla/store/boltstore under --storage.path, or store.Memory in tests) and
// hands out plain figures and reports; it shows nothing itself (internal/export
// and internal/report do). It knows nothing of probes: the agent hands it
// Observations.
package sla

import (
	"time"
)

// State of a feature.
type State string

// The states, in the order they are exported.
const (
	StateUp          State = "up"
	StateDegraded    State = "degraded"
	StateRecovering  State = "recovering"
	StateDown        State = "down"
	StateMaintenance State = "maintenance"
	StateUnknown     State = "unknown"
)

// Clock gives the current time; tests inject their own.
type Clock interface{ Now() time.Time }

// RequireMode says how the latest check results of a feature combine.
type RequireMode int

// Require modes.
const (
	RequireAll RequireMode = iota
	RequireAny
	RequireQuorum
)

// Require is a feature's `require:` (all, any, quorum(N)).
type Require struct {
	Mode RequireMode
	N    int // for RequireQuorum
}

// Maintenance is one maintenance window: a one-off (Start set) or recurring
// (Cron set, evaluated in Location).
type Maintenance struct {
	Start    time.Time
	Cron     string
	Location *time.Location
	Duration time.Duration
}

// CheckSpec describes one check of a feature, for staleness and display.
type CheckSpec struct {
	Name     string
	Kind     string
	Interval time.Duration
	Timeout  time.Duration
}

// FeatureSpec is what the engine needs to know about one feature; the agent
// builds it from the config on every load and reload.
type FeatureSpec struct {
	Service      string
	Feature      string
	ServiceTitle string
	Title        string
	// Labels are the service's and feature's metadata labels merged (feature wins).
	Labels            map[string]string
	Require           Require
	Objective         float64 // ratio, 0.999 for "99.9"
	Window            time.Duration
	Latency           time.Duration // 0: no latency objective
	FailureThreshold  int
	RecoveryThreshold int
	Maintenance       []Maintenance
	Checks            []CheckSpec
}

// Observation is one check result as the engine sees it.
type Observation struct {
	Start    time.Time
	Duration time.Duration
	Success  bool
	Error    string
	// AgentFault, when set, says the run failed for a reason of the agent's
	// own, e.g. "too many open files" (probes.Result.AgentFault): it says
	// nothing about the service. The check is blind until its next real
	// result; meanwhile the feature's time is unmonitored, its state shows
	// unknown, and no failure streak counts it.
	AgentFault string
}
