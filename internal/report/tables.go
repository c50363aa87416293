package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// table is one table of the report as Markdown, HTML and PDF lay it out, so
// that the three show the same cells.
type table struct {
	Title string
	Head  []string
	Right []bool // right-aligned columns (numbers)
	Rows  [][]string
	// Empty is said instead of the table when it has no rows.
	Empty string
}

// header is the report's opening lines, each "label: value".
func (d *Document) header() [][2]string {
	region := d.Region
	if region == "" {
		region = "(no region)"
	}
	return [][2]string{
		{"Region", region},
		{"Period", fmt.Sprintf("%s to %s (%s)", d.From.Format(time.RFC3339), d.To.Format(time.RFC3339), humanDuration(d.To.Sub(d.From).Seconds()))},
		{"Generated", d.GeneratedAt.Format(time.RFC3339)},
		{"Digest", d.Digest},
	}
}

// tables lays out d: one table per service, the contract figures, the
// outages.
func (d *Document) tables() []table {
	var out []table
	service := "\x00"
	for _, f := range d.Features {
		if f.Service != service {
			service = f.Service
			out = append(out, table{Title: titled(f.ServiceTitle, f.Service),
				Head:  []string{"Feature", "Objective", "Availability", "Met", "Budget left", "Coverage", "Downtime", "Degraded", "Maintenance", "Unmonitored", "Outages"},
				Right: []bool{false, true, true, false, true, true, true, true, true, true, true}})
		}
		t := &out[len(out)-1]
		name := titled(f.Title, f.Feature)
		if !f.Configured {
			name += " (removed)"
		}
		availability, met, budget := percent(f.Availability), yesNo(f.Met), percent(f.ErrorBudgetRemaining)
		switch {
		case f.NoData:
			availability, met, budget = "no data", "-", "-"
		case f.InsufficientData:
			availability, met, budget = "insufficient data", "-", "-"
		}
		t.Rows = append(t.Rows, []string{name, percent(f.Objective), availability, met, budget, coverageText(f.Coverage),
			humanDuration(f.DowntimeSeconds), humanDuration(f.DegradedSeconds), humanDuration(f.MaintenanceSeconds),
			humanDuration(f.UnmonitoredSeconds), strconv.Itoa(len(f.Outages))})
	}
	contracts := table{Title: "Contract figures",
		Head:  []string{"Service", "Feature", "Objective", "Covered hours", "Coverage", "Maintenance", "Eligible", "Downtime", "Availability", "Met", "Budget left", "Credit owed"},
		Right: []bool{false, false, true, false, true, true, true, true, true, false, true, true},
		Empty: "No feature has an SLA contract."}
	for _, f := range d.Features {
		c := f.Contract
		if c == nil {
			continue
		}
		hours := "all hours"
		if len(c.CoveredHours) > 0 {
			hours = strings.Join(c.CoveredHours, ", ")
		}
		hours += " " + c.Timezone
		if len(c.ExcludedDates) > 0 {
			hours += "; except " + strings.Join(c.ExcludedDates, ", ")
		}
		availability, met, budget, credit := percent(c.Availability), yesNo(c.Met), percent(c.ErrorBudgetRemaining), "none"
		if c.Credit != nil {
			credit = fmt.Sprintf("%s%% (below %s%%)", number(c.Credit.Credit), number(c.Credit.Below))
		}
		if c.InsufficientData {
			availability, met, budget, credit = "insufficient data", "-", "-", "-"
		}
		contracts.Rows = append(contracts.Rows, []string{f.Service, f.Feature, percent(c.Objective), hours, coverageText(c.Coverage),
			humanDuration(c.MaintenanceSeconds), humanDuration(c.EligibleSeconds), humanDuration(c.DowntimeSeconds),
			availability, met, budget, credit})
	}
	out = append(out, contracts)
	outages := table{Title: "Outages",
		Head:  []string{"Service", "Feature", "Start", "End", "Duration", "Downtime", "In covered hours", "Cause check", "Cause error", "Checks failed"},
		Right: []bool{false, false, false, false, true, true, false, false, false, false},
		Empty: "None."}
	for _, f := range d.Features {
		for _, o := range f.Outages {
			end := "ongoing"
			if o.End != nil {
				end = o.End.Format(time.RFC3339)
			}
			covered := "-"
			if o.InCoveredHours != "" {
				covered = o.InCoveredHours
				if o.InCoveredHours == "partly" {
					covered += " (" + humanDuration(o.CoveredDowntimeSeconds) + ")"
				}
			}
			outages.Rows = append(outages.Rows, []string{o.Service, o.Feature, o.Start.Format(time.RFC3339), end,
				humanDuration(o.DurationSeconds), humanDuration(o.DowntimeSeconds), covered, o.Cause.Check, o.Cause.Error,
				strings.Join(o.ChecksFailed, ", ")})
		}
	}
	return append(out, outages)
}

func titled(title, name string) string {
	if title == "" {
		return name
	}
	return title + " (" + name + ")"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// coverageText is "monitored of total s (ratio)".
func coverageText(c Coverage) string {
	return fmt.Sprintf("%s of %s s (%s)", number(c.MonitoredSeconds), number(c.Seconds), percent(c.Ratio))
}

func number(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
