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

// CheckSpec describes one check of a feature: staleness, display, and how
// its runs confirm its state.
type CheckSpec struct {
	Name     string
	Kind     string
	Interval time.Duration
	Timeout  time.Duration
	// FailureThreshold is how many failed runs in a row make the check
	// failing, RecoveryThreshold how many passing runs in a row make it
	// passing again; 0 takes the feature's.
	FailureThreshold  int
	RecoveryThreshold int
	// FailureWindow, when set, replaces FailureThreshold: the check is
	// failing once at least Failures of its last Runs runs failed.
	FailureWindow FailureWindow
}

// FailureWindow is a check's `failure_window: {failures: M, runs: N}`.
type FailureWindow struct {
	Failures int
	Runs     int
}

// MaxWindowRuns is the largest FailureWindow.Runs (and failure threshold).
const MaxWindowRuns = 64

// Flap is a feature's `flap: {changes, window}`: the feature is flapping
// while its state changed more than Changes times within Window, until it
// has been stable for Window. Zero fields take DefaultFlap's.
type Flap struct {
	Changes int
	Window  time.Duration
}

// DefaultFlap: more than 6 changes in 30 minutes. One outage is 3 changes
// (up, down, recovering, up) and one that fails its recovery once is 5, so
// neither flaps; a third outage within half an hour does.
var DefaultFlap = Flap{Changes: 6, Window: 30 * time.Minute}

// VantageSpec is the agent's canaries (`agent.canaries`,
// `agent.canary_require`): checks of things that must answer from the
// agent's network whatever happens to the services. While their requirement
// fails (each canary confirming its state as any check does), the agent's
// vantage is impaired: every feature's time is unmonitored and no outage
// opens. No canaries: the vantage is never impaired.
type VantageSpec struct {
	Canaries          []CheckSpec
	Require           Require
	FailureThreshold  int
	RecoveryThreshold int
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
	Flap              Flap
	Maintenance       []Maintenance
	Checks            []CheckSpec

	// Calendar, when enabled, replaces Window: the SLO window is the
	// current calendar month or week in its zone.
	Calendar Calendar
	// Gate is the feature's error-budget gate (Engine.Gate); nil: none.
	Gate *GatePolicy
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
	// Artifact is a file a person may look at about this run (a failed
	// browser run's screenshot, under the agent's artifacts directory);
	// it says nothing to the SLA.
	Artifact string
}
