package sla

import (
	"log/slog"
	"time"
)

// Options configure an Engine.
type Options struct {
	// Path is the storage directory; the store is Path/vigil.db. It is created
	// if needed.
	Path string
	// Region is written into every Outage and Report.
	Region string
	// Clock gives the current time; nil means real time.
	Clock Clock
	// Logger receives store errors and compaction notes; nil discards.
	Logger *slog.Logger
	// Retention is how long ended outages, transitions and intervals are kept;
	// 0 means 400 days.
	Retention time.Duration
	// HeartbeatInterval is how often the agent's liveness is persisted, which
	// bounds how much of a crash gap can be mistaken for running time. 0 means
	// 10s; larger values are capped at 10s.
	HeartbeatInterval time.Duration
	// ScheduledHeartbeat leaves the heartbeat to the caller, which calls
	// Heartbeat every HeartbeatInterval() (the agent runs it as its gocron
	// duty "sla-heartbeat"); otherwise the engine beats on a ticker of its own.
	ScheduledHeartbeat bool
	// Outbox, when set, makes every store write that records a transition,
	// an outage, a degraded or presence span, a gap or a heartbeat also
	// append those records to the store's outbox in the same transaction,
	// for a publisher to read (Store.OutboxAfter) and acknowledge
	// (Store.AckOutbox). Record format: outbox.go.
	Outbox bool
	// Agent is the agent's id in outbox records; "" means Region.
	Agent string
	// Features, when known, is how many features the first Configure will
	// hold: the store maps room for their records from the start
	// (storeMapFor), so that a large first configuration is written without
	// remapping. 0: bbolt's own growth.
	Features int

	// noSync skips fsync: tests and benchmarks only, never the agent.
	noSync bool
}

// Cause says which check, failing how, opened an outage: the first failing
// check of the first failing evaluation.
type Cause struct {
	Check string `json:"check"`
	Error string `json:"error"`
}

// Outage is one outage window of a feature.
type Outage struct {
	ID      uint64     `json:"id"`
	Service string     `json:"service"`
	Feature string     `json:"feature"`
	Region  string     `json:"region"`
	Start   time.Time  `json:"start"`
	End     *time.Time `json:"end"` // nil while open
	// DurationSeconds is wall time from Start to End (to now while open).
	DurationSeconds float64 `json:"duration_seconds"`
	// DowntimeSeconds is what the outage counts against the SLA: its duration
	// minus maintenance and unmonitored time.
	DowntimeSeconds    float64  `json:"downtime_seconds"`
	MaintenanceSeconds float64  `json:"maintenance_seconds"`
	UnmonitoredSeconds float64  `json:"unmonitored_seconds"`
	Cause              Cause    `json:"cause"`
	ChecksFailed       []string `json:"checks_failed"`
}

// OutageQuery selects outages: empty strings match any service or feature; a
// zero Since or Until leaves that end open. An outage matches when it overlaps
// [Since, Until].
type OutageQuery struct {
	Service string
	Feature string
	Since   time.Time
	Until   time.Time
}

// Availability holds availability ratios per rolling window ending now.
type Availability struct {
	Hour  float64 `json:"1h"`
	Day   float64 `json:"24h"`
	Week  float64 `json:"7d"`
	Month float64 `json:"30d"`
	SLO   float64 `json:"slo"`
	// Calendar is the availability over the current calendar period, only
	// for a feature with a calendar SLO window (then equal to SLO).
	Calendar *float64 `json:"calendar,omitempty"`
}

// SLOStatus is a feature's objective and what is left of its error budget.
type SLOStatus struct {
	Objective float64 `json:"objective"`
	// Window is the SLO window in Prometheus duration form, e.g. "30d".
	Window               string  `json:"window"`
	ErrorBudgetRemaining float64 `json:"error_budget_remaining"`
	// Timezone, PeriodStart and PeriodEnd describe a calendar window
	// (Window "calendar-month" or "calendar-week"): the zone and the
	// current period [start, end), whose budget started afresh at start.
	Timezone    string     `json:"timezone,omitempty"`
	PeriodStart *time.Time `json:"period_start,omitempty"`
	PeriodEnd   *time.Time `json:"period_end,omitempty"`
}

// CheckStatus is the latest result of one check of a feature.
type CheckStatus struct {
	Name            string     `json:"name"`
	Kind            string     `json:"kind"`
	Up              bool       `json:"up"`
	LastRun         *time.Time `json:"last_run"` // nil before the first result
	DurationSeconds float64    `json:"duration_seconds"`
	Error           string     `json:"error"`
	// AgentFault is set when the last run failed for the agent's own reason
	// (e.g. "too many open files"), not the service's.
	AgentFault string `json:"agent_fault,omitempty"`
	// Screenshot is the last run's screenshot file (a failed browser run),
	// served at /artifacts/<name>.
	Screenshot string `json:"screenshot,omitempty"`
}

// FeatureStatus is the state of one configured feature, for /api/v1/features
// and the status page.
type FeatureStatus struct {
	Service      string            `json:"service"`
	Feature      string            `json:"feature"`
	Title        string            `json:"title"`
	ServiceTitle string            `json:"service_title"`
	Labels       map[string]string `json:"labels"`
	State        State             `json:"state"`
	Since        time.Time         `json:"since"`
	// Reason explains a degraded, down or recovering state, e.g.
	// "check dc2 failing: connection refused".
	Reason       string        `json:"reason"`
	Availability Availability  `json:"availability"`
	SLO          SLOStatus     `json:"slo"`
	Checks       []CheckStatus `json:"checks"`
	// DowntimeSeconds and DegradedSeconds are the lifetime totals, as exported
	// by vigil_sla_downtime_seconds_total and vigil_sla_degraded_seconds_total.
	DowntimeSeconds float64 `json:"downtime_seconds"`
	DegradedSeconds float64 `json:"degraded_seconds"`
	// Outage is the open outage, nil when there is none.
	Outage *Outage `json:"outage"`
	// Flapping is true while the state changed more than flap.changes times
	// within flap.window, until it has been stable for the window;
	// FlappingSince is when it began (nil when not flapping).
	Flapping      bool       `json:"flapping"`
	FlappingSince *time.Time `json:"flapping_since,omitempty"`
}

// VantageStatus is the agent's own network as its canaries see it, for
// /api/v1/features, the status page and vigil_agent_vantage_up.
type VantageStatus struct {
	// Configured is false when the agent has no canaries (Up is then true).
	Configured bool      `json:"configured"`
	Up         bool      `json:"up"`
	Since      time.Time `json:"since"`
	// Reason explains an impaired vantage, e.g. "canary gateway failing:
	// connection refused".
	Reason   string        `json:"reason,omitempty"`
	Canaries []CheckStatus `json:"canaries"`
}

// Report is the SLA report over [From, To): `vigil report` and
// /api/v1/report.
type Report struct {
	Region      string          `json:"region"`
	From        time.Time       `json:"from"`
	To          time.Time       `json:"to"`
	GeneratedAt time.Time       `json:"generated_at"`
	Features    []ReportFeature `json:"features"`
}

// ReportFeature is one feature's line of a Report.
type ReportFeature struct {
	Service      string  `json:"service"`
	Feature      string  `json:"feature"`
	Title        string  `json:"title"`
	ServiceTitle string  `json:"service_title"`
	Objective    float64 `json:"objective"`
	Availability float64 `json:"availability"`
	// Met is true when Availability reached Objective.
	Met                bool     `json:"met"`
	DowntimeSeconds    float64  `json:"downtime_seconds"`
	DegradedSeconds    float64  `json:"degraded_seconds"`
	MaintenanceSeconds float64  `json:"maintenance_seconds"`
	UnmonitoredSeconds float64  `json:"unmonitored_seconds"`
	Outages            []Outage `json:"outages"`
	// Configured is false for a feature no longer in the config whose history
	// falls in the report's range.
	Configured bool `json:"configured"`
	// NoData is true when the feature was not monitored at any moment of the
	// range: its availability (1 by the formula) then says nothing, and Met
	// is false.
	NoData bool `json:"no_data"`
}
