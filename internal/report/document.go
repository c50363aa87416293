package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/internal/contract"
	"github.com/vigil-monitoring/vigil/sla"
)

// MinCoverage is the share of a period that must have been monitored for a
// figure to be given: below it the report says "insufficient data" instead
// of a percentage. Half: a figure resting on less time than went unseen
// would be more guess than measure.
const MinCoverage = 0.5

// Document is a report as every format lays it out: the engine's figures
// over the range, coverage, contract figures and the digest of the records
// they were computed from. JSON keeps the field names of sla.Report.
type Document struct {
	Region string    `json:"region"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// GeneratedAt is the range end (the data's "as of") unless set
	// explicitly, so the same data always gives the same bytes; it is not
	// part of the digest.
	GeneratedAt time.Time `json:"generated_at"`
	// Digest is "sha256:" and the hex SHA-256 of the canonical encoding of
	// the records the report was computed from (WriteCanonical).
	Digest   string    `json:"digest"`
	Features []Feature `json:"features"`

	canonical []byte
}

// Feature is one feature's figures.
type Feature struct {
	sla.ReportFeature
	// Coverage is the monitored part of the range.
	Coverage Coverage `json:"coverage"`
	// InsufficientData is true when less than MinCoverage of the range was
	// monitored: Availability then says little and Met is false.
	InsufficientData bool `json:"insufficient_data"`
	// ErrorBudgetRemaining over the range: 1 − downtime / ((1 − objective)
	// × eligible time).
	ErrorBudgetRemaining float64 `json:"error_budget_remaining"`
	// Contract holds the contract figures; nil for a feature without an
	// sla block.
	Contract *ContractFigures `json:"contract,omitempty"`
	Outages  []Outage         `json:"outages"`

	spans sla.Spans
}

// Coverage is how much of a period was monitored.
type Coverage struct {
	MonitoredSeconds float64 `json:"monitored_seconds"`
	Seconds          float64 `json:"seconds"`
	Ratio            float64 `json:"ratio"`
}

// ContractFigures are a feature's figures under its SLA contract: only
// covered hours (less excluded dates) count, and of them only monitored,
// non-maintenance time is eligible.
type ContractFigures struct {
	Objective     float64         `json:"objective"` // ratio, 0.999 for 99.9 %
	Timezone      string          `json:"timezone"`
	CoveredHours  []string        `json:"covered_hours"`
	ExcludedDates []string        `json:"excluded_dates"`
	Credits       []contract.Tier `json:"credits"`
	// Coverage is the monitored part of the covered time.
	Coverage           Coverage `json:"coverage"`
	MaintenanceSeconds float64  `json:"maintenance_seconds"`
	EligibleSeconds    float64  `json:"eligible_seconds"`
	DowntimeSeconds    float64  `json:"downtime_seconds"`
	Availability       float64  `json:"availability"`
	// Met is true when Availability is not below Objective, compared
	// exactly, and the data suffice.
	Met                  bool    `json:"met"`
	ErrorBudgetRemaining float64 `json:"error_budget_remaining"`
	InsufficientData     bool    `json:"insufficient_data"`
	// Credit is the tier reached (nil: none owed, or insufficient data).
	Credit *contract.Tier `json:"credit"`
}

// Outage is an outage with how much of its downtime in the range fell in
// covered hours.
type Outage struct {
	sla.Outage
	// CoveredDowntimeSeconds is its downtime inside the range and the
	// contract's covered hours; InCoveredHours says "yes" (all of it),
	// "partly", "no", or "" without a contract.
	CoveredDowntimeSeconds float64 `json:"covered_downtime_seconds"`
	InCoveredHours         string  `json:"in_covered_hours"`
}

// SpanSource gives a feature's spans over a range; *sla.Engine is one.
type SpanSource interface {
	Spans(service, feature string, from, to time.Time) (sla.Spans, bool)
}

// Options shape a Document.
type Options struct {
	// Contracts by "service/feature" (config.Config.Contracts).
	Contracts map[string]contract.Contract
	// GeneratedAt, when set, is printed as the generation time; otherwise
	// the range end is.
	GeneratedAt time.Time
}

// Build makes the Document of r, reading each feature's spans from src.
func Build(r *sla.Report, src SpanSource, opts Options) *Document {
	d := &Document{Region: r.Region, From: r.From, To: r.To, GeneratedAt: r.To, Features: make([]Feature, 0, len(r.Features))}
	if !opts.GeneratedAt.IsZero() {
		d.GeneratedAt = opts.GeneratedAt.UTC()
	}
	for _, rf := range r.Features {
		sp, ok := src.Spans(rf.Service, rf.Feature, r.From, r.To)
		if !ok {
			sp = sla.Spans{From: r.From, To: r.To}
		}
		f := Feature{ReportFeature: rf, spans: sp, Outages: make([]Outage, 0, len(rf.Outages))}
		length := r.To.Sub(r.From)
		monitored := total(sp.Monitored)
		f.Coverage = coverage(monitored, length)
		f.InsufficientData = insufficient(monitored, length)
		if f.InsufficientData {
			f.Met = false
		}
		eligible := monitored - total(sp.Maintenance)
		f.ErrorBudgetRemaining = budget(total(sp.Down), eligible, rf.Objective)
		var covered []contract.Interval
		if c, ok := opts.Contracts[rf.Service+"/"+rf.Feature]; ok {
			covered = c.Covered(r.From, r.To)
			f.Contract = contractFigures(c, covered, sp)
		}
		for _, o := range rf.Outages {
			out := Outage{Outage: o}
			if f.Contract != nil {
				end := r.To
				if o.End != nil && o.End.Before(end) {
					end = *o.End
				}
				in := contract.Intersect(contract.Intersect(intervals(sp.Down), []contract.Interval{{Start: o.Start, End: end}}), covered)
				down := contract.Intersect(intervals(sp.Down), []contract.Interval{{Start: o.Start, End: end}})
				out.CoveredDowntimeSeconds = contract.Length(in).Seconds()
				switch {
				case contract.Length(in) == 0:
					out.InCoveredHours = "no"
				case contract.Length(in) == contract.Length(down):
					out.InCoveredHours = "yes"
				default:
					out.InCoveredHours = "partly"
				}
			}
			f.Outages = append(f.Outages, out)
		}
		d.Features = append(d.Features, f)
	}
	d.canonical = d.encodeCanonical()
	sum := sha256.Sum256(d.canonical)
	d.Digest = "sha256:" + hex.EncodeToString(sum[:])
	return d
}

func contractFigures(c contract.Contract, covered []contract.Interval, sp sla.Spans) *ContractFigures {
	cf := &ContractFigures{Objective: c.Objective / 100, Timezone: "UTC", CoveredHours: []string{}, ExcludedDates: []string{},
		Credits: append([]contract.Tier{}, c.Credits...)}
	if c.Location != nil {
		cf.Timezone = c.Location.String()
	}
	for _, h := range c.Hours {
		cf.CoveredHours = append(cf.CoveredHours, h.String())
	}
	for _, x := range c.Excluded {
		cf.ExcludedDates = append(cf.ExcludedDates, x.String())
	}
	monitored := contract.Intersect(covered, intervals(sp.Monitored))
	maint := contract.Length(contract.Intersect(monitored, intervals(sp.Maintenance)))
	down := contract.Length(contract.Intersect(covered, intervals(sp.Down)))
	length := contract.Length(covered)
	eligible := contract.Length(monitored) - maint
	cf.Coverage = coverage(contract.Length(monitored), length)
	cf.MaintenanceSeconds, cf.EligibleSeconds, cf.DowntimeSeconds = maint.Seconds(), eligible.Seconds(), down.Seconds()
	cf.Availability = 1
	if eligible > 0 {
		cf.Availability = 1 - float64(down)/float64(eligible)
	}
	cf.ErrorBudgetRemaining = budget(down, eligible, cf.Objective)
	cf.InsufficientData = insufficient(contract.Length(monitored), length)
	if !cf.InsufficientData {
		cf.Met = !contract.Below(down, eligible, c.Objective)
		if t, ok := c.Credit(down, eligible); ok {
			cf.Credit = &t
		}
	}
	return cf
}

// insufficient reports whether monitored is less than MinCoverage of length
// (exactly: twice monitored below length); nothing to cover is not.
func insufficient(monitored, length time.Duration) bool {
	return length > 0 && 2*monitored < length
}

func coverage(monitored, length time.Duration) Coverage {
	c := Coverage{MonitoredSeconds: monitored.Seconds(), Seconds: length.Seconds()}
	if length > 0 {
		c.Ratio = float64(monitored) / float64(length)
	}
	return c
}

// budget is 1 − downtime / ((1 − objective) × eligible); 1 when nothing was
// eligible.
func budget(down, eligible time.Duration, objective float64) float64 {
	if eligible <= 0 || objective <= 0 || objective >= 1 {
		return 1
	}
	return 1 - float64(down)/((1-objective)*float64(eligible))
}

func total(list []sla.Span) time.Duration {
	var d time.Duration
	for _, s := range list {
		d += s.End.Sub(s.Start)
	}
	return d
}

func intervals(list []sla.Span) []contract.Interval {
	out := make([]contract.Interval, len(list))
	for i, s := range list {
		out[i] = contract.Interval{Start: s.Start, End: s.End}
	}
	return out
}

// canonicalVersion heads the canonical encoding; it changes whenever the
// encoding does.
const canonicalVersion = "vigil-report-records/1"

// encodeCanonical writes the records the report was computed from, one per
// line, times as Unix nanoseconds, strings quoted as Go quotes them, numbers
// in their shortest exact form: the range, then per feature (sorted by
// service and feature) its objective, its contract terms, its outages (by
// start), and its maintenance, unmonitored and degraded spans inside the
// range. Nothing here depends on when or where the report was made.
func (d *Document) encodeCanonical() []byte {
	var b strings.Builder
	q := strconv.Quote
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	ns := func(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }
	spans := func(kind string, list []sla.Span) {
		for _, s := range list {
			fmt.Fprintf(&b, "%s %s %s\n", kind, ns(s.Start), ns(s.End))
		}
	}
	fmt.Fprintf(&b, "%s\nregion %s\nrange %s %s\n", canonicalVersion, q(d.Region), ns(d.From), ns(d.To))
	for _, f := range d.Features {
		fmt.Fprintf(&b, "feature %s %s objective %s configured %t\n", q(f.Service), q(f.Feature), num(f.Objective), f.Configured)
		if c := f.Contract; c != nil {
			fmt.Fprintf(&b, "contract objective %s timezone %s", num(c.Objective), q(c.Timezone))
			for _, h := range c.CoveredHours {
				fmt.Fprintf(&b, " hours %s", q(h))
			}
			for _, x := range c.ExcludedDates {
				fmt.Fprintf(&b, " excluded %s", x)
			}
			for _, t := range c.Credits {
				fmt.Fprintf(&b, " credit %s:%s", num(t.Below), num(t.Credit))
			}
			b.WriteString("\n")
		}
		for _, o := range f.Outages {
			end := "open"
			if o.End != nil {
				end = ns(*o.End)
			}
			checks := make([]string, len(o.ChecksFailed))
			for i, c := range o.ChecksFailed {
				checks[i] = q(c)
			}
			fmt.Fprintf(&b, "outage %d %s %s cause %s %s checks %s\n", o.ID, ns(o.Start), end, q(o.Cause.Check), q(o.Cause.Error), strings.Join(checks, ","))
		}
		spans("maintenance", f.spans.Maintenance)
		spans("unmonitored", complement(f.spans.Monitored, d.From, d.To))
		spans("degraded", f.spans.Degraded)
	}
	return []byte(b.String())
}

// complement is [from, to) less the sorted, disjoint list.
func complement(list []sla.Span, from, to time.Time) []sla.Span {
	var out []sla.Span
	for _, iv := range contract.Subtract([]contract.Interval{{Start: from, End: to}}, intervals(list)) {
		out = append(out, sla.Span{Start: iv.Start, End: iv.End})
	}
	return out
}

// WriteCanonical writes the canonical encoding of the records d was
// computed from: what Digest is the SHA-256 of, for a party who wants to
// check it (`sha256sum`).
func (d *Document) WriteCanonical(w io.Writer) error {
	_, err := w.Write(d.canonical)
	return err
}
