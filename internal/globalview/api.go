// Package globalview is the cross-region view of `vigil global` (issue 17):
// it ingests the records every agent publishes (DESIGN.md "The published
// record"), merges each region's replicas into a region timeline, and
// computes per feature the global state by consensus, global outages with
// exact edges, and global availability. It is pure: no NATS, no HTTP, time
// from an injected clock; the vigil global role feeds it and presents it.
package globalview

import (
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// Record is one published record of any type, as decoded from its JSON.
type Record struct {
	V       int       `json:"v"`
	Seq     uint64    `json:"seq"`
	Agent   string    `json:"agent"`
	Region  string    `json:"region"`
	At      time.Time `json:"at"`
	Type    string    `json:"type"` // transition, outage, degraded, presence, gap, heartbeat, maintenance
	Service string    `json:"service,omitempty"`
	Feature string    `json:"feature,omitempty"`
	// transition
	From   sla.State `json:"from,omitempty"`
	To     sla.State `json:"to,omitempty"`
	Reason string    `json:"reason,omitempty"`
	// outage (Start and End also for degraded, presence and gap)
	ID           uint64     `json:"id,omitempty"`
	Start        time.Time  `json:"start,omitzero"`
	End          *time.Time `json:"end,omitempty"`
	Cause        sla.Cause  `json:"cause,omitzero"`
	ChecksFailed []string   `json:"checks_failed,omitempty"`
	// maintenance: the feature's windows from Since on are Windows
	Since   time.Time `json:"since,omitzero"`
	Windows []Window  `json:"windows,omitempty"`
	// heartbeat
	Features  int  `json:"features,omitempty"`
	VantageUp bool `json:"vantage_up,omitempty"`
	Final     bool `json:"final,omitempty"`
}

// Window is a maintenance window [Start, End).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Options configure a View.
type Options struct {
	// MinRegions is how many monitoring regions must see a feature down for
	// it to be down globally (default 2; all monitoring regions when fewer
	// monitor). MinRegionsFor overrides it per "service" or
	// "service/feature" (the longer key wins).
	MinRegions    int
	MinRegionsFor map[string]int
	// StaleAfter: an agent with no heartbeat for this long is not
	// monitoring from its last heartbeat on (default 30s).
	StaleAfter time.Duration
	// Objective per "service" or "service/feature" (ratio, e.g. 0.999);
	// default DefaultObjective.
	Objective    float64
	ObjectiveFor map[string]float64
	// MaxClockSkew: a record whose At is further than this from the clock
	// is accepted with its time and flagged (default 5m).
	MaxClockSkew time.Duration
	Clock        sla.Clock
}

// DefaultObjective is the global objective when none is configured.
const DefaultObjective = 0.999

// Global states of a feature.
const (
	StateUp       = "up"
	StateRegional = "regional" // down from fewer regions than required: shown as degraded
	StateDegraded = "degraded" // some region sees it degraded
	StateDown     = "down"
	StateUnknown  = "unknown" // no region monitors it
	// StateMaintenance: every region that would monitor it is in
	// maintenance; the time counts neither up nor down.
	StateMaintenance = "maintenance"
)

// RegionStatus is one region's view of a feature, its replicas merged.
type RegionStatus struct {
	Region string `json:"region"`
	// State is up, degraded, down, maintenance (every monitoring replica
	// is in a maintenance window) or unknown (not monitoring: no replica
	// monitors, all are stale, or their vantage is impaired).
	State     string    `json:"state"`
	Since     time.Time `json:"since"`
	Monitored bool      `json:"monitored"`
	// Replicas are the agents seen for the region; Monitoring how many of
	// them monitor the feature now.
	Replicas   []string `json:"replicas"`
	Monitoring int      `json:"monitoring"`
	// NoDataSince is set when no replica of the region has sent a
	// heartbeat for StaleAfter: "no data since ...".
	NoDataSince *time.Time `json:"no_data_since,omitempty"`
}

// FeatureStatus is a feature's global state now.
type FeatureStatus struct {
	Service      string           `json:"service"`
	Feature      string           `json:"feature"`
	State        string           `json:"state"`
	Since        time.Time        `json:"since"`
	RegionsDown  []string         `json:"regions_down"`
	MinRegions   int              `json:"min_regions"`
	Regions      []RegionStatus   `json:"regions"`
	Availability sla.Availability `json:"availability"` // 1h, 24h, 7d, 30d; SLO = 30d
	Objective    float64          `json:"objective"`
	// BudgetRemaining over 30 days: 1 untouched, 0 spent, below 0 overspent.
	BudgetRemaining float64 `json:"error_budget_remaining"`
	Outage          *Outage `json:"outage"`
}

// Outage is a global outage: the feature down by consensus.
type Outage struct {
	Service string     `json:"service"`
	Feature string     `json:"feature"`
	Start   time.Time  `json:"start"`
	End     *time.Time `json:"end"`
	// DurationSeconds is to End, or to now while open.
	DurationSeconds float64 `json:"duration_seconds"`
	// Regions are the regions down at some moment of it; Causes their
	// agents' outage causes.
	Regions []string      `json:"regions"`
	Causes  []RegionCause `json:"causes"`
}

// RegionCause is one region's (agent's) cause of its own outage.
type RegionCause struct {
	Region string    `json:"region"`
	Agent  string    `json:"agent"`
	Cause  sla.Cause `json:"cause"`
}

// ReportFeature is one feature's global figures over a range.
type ReportFeature struct {
	Service            string   `json:"service"`
	Feature            string   `json:"feature"`
	Objective          float64  `json:"objective"`
	Availability       float64  `json:"availability"`
	Met                bool     `json:"met"`
	DowntimeSeconds    float64  `json:"downtime_seconds"`    // down by consensus
	RegionalSeconds    float64  `json:"regional_seconds"`    // down from some, too few, regions
	UnmonitoredSeconds float64  `json:"unmonitored_seconds"` // no region monitoring
	MaintenanceSeconds float64  `json:"maintenance_seconds"` // every monitoring region in maintenance
	Outages            []Outage `json:"outages"`
	// Regions are each region's own figures over the range, by region name.
	Regions []RegionFigures `json:"regions"`
}

// RegionFigures are one region's figures of a feature over a range: its
// replicas merged (rule 2), availability as an agent's (down over the time
// the region monitored, maintenance out).
type RegionFigures struct {
	Region             string  `json:"region"`
	Availability       float64 `json:"availability"`
	DowntimeSeconds    float64 `json:"downtime_seconds"`
	DegradedSeconds    float64 `json:"degraded_seconds"`
	MaintenanceSeconds float64 `json:"maintenance_seconds"`
	UnmonitoredSeconds float64 `json:"unmonitored_seconds"`
	// NoData is true when the region did not monitor the feature at any
	// moment of the range (its availability then says nothing).
	NoData bool `json:"no_data"`
}

// Report is the global report over [From, To).
type Report struct {
	From     time.Time       `json:"from"`
	To       time.Time       `json:"to"`
	Regions  []string        `json:"regions"`
	Features []ReportFeature `json:"features"`
}

// Rejection reasons for Ingest's errors (vigil_global_records_rejected_total{reason}).
const (
	RejectMalformed = "malformed" // not JSON, or a field of the wrong type
	RejectVersion   = "version"   // v is not 1
	RejectType      = "type"      // an unknown type
	RejectMissing   = "missing"   // a field the type needs is missing
	RejectDuplicate = "duplicate" // agent and seq seen before
)
