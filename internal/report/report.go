// Package report renders the SLA report for people and spreadsheets:
// Markdown, CSV and JSON of an sla.Report, as `vigil report` writes them.
// The engine computes the report; this package only lays it out.
package report

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/sla"
)

// WriteMarkdown writes r as Markdown: a table per service, then the list of
// outages.
func WriteMarkdown(w io.Writer, r *sla.Report) error {
	b := bufio.NewWriter(w)
	region := r.Region
	if region == "" {
		region = "(no region)"
	}
	fmt.Fprintf(b, "# SLA report: %s\n\n", mdEscape(region))
	fmt.Fprintf(b, "From %s to %s (%s), generated %s.\n", r.From.Format(time.RFC3339), r.To.Format(time.RFC3339),
		humanDuration(r.To.Sub(r.From).Seconds()), r.GeneratedAt.Format(time.RFC3339))
	service := "\x00"
	var outages []sla.Outage
	for _, f := range r.Features {
		if f.Service != service {
			service = f.Service
			title := mdEscape(f.Service)
			if f.ServiceTitle != "" {
				title = mdEscape(f.ServiceTitle) + " (" + mdEscape(f.Service) + ")"
			}
			fmt.Fprintf(b, "\n## %s\n\n", title)
			fmt.Fprintln(b, "| Feature | Objective | Availability | Met | Downtime | Degraded | Maintenance | Unmonitored | Outages |")
			fmt.Fprintln(b, "|---|---:|---:|:---:|---:|---:|---:|---:|---:|")
		}
		name := mdEscape(f.Feature)
		if f.Title != "" {
			name = mdEscape(f.Title) + " (" + mdEscape(f.Feature) + ")"
		}
		if !f.Configured {
			name += " (removed)"
		}
		availability, met := percent(f.Availability), "yes"
		switch {
		case f.NoData:
			availability, met = "no data", "-"
		case !f.Met:
			met = "**no**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", name, percent(f.Objective),
			availability, met, humanDuration(f.DowntimeSeconds), humanDuration(f.DegradedSeconds),
			humanDuration(f.MaintenanceSeconds), humanDuration(f.UnmonitoredSeconds), len(f.Outages))
		outages = append(outages, f.Outages...)
	}
	fmt.Fprintln(b, "\n## Outages")
	if len(outages) == 0 {
		fmt.Fprintln(b, "\nNone.")
	} else {
		fmt.Fprintln(b, "\n| Service | Feature | Start | End | Downtime | Cause check | Cause error | Checks failed |")
		fmt.Fprintln(b, "|---|---|---|---|---:|---|---|---|")
		for _, o := range outages {
			end := "ongoing"
			if o.End != nil {
				end = o.End.Format(time.RFC3339)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(o.Service), mdEscape(o.Feature),
				o.Start.Format(time.RFC3339), end, humanDuration(o.DowntimeSeconds), mdEscape(o.Cause.Check), mdEscape(o.Cause.Error),
				mdEscape(strings.Join(o.ChecksFailed, ", ")))
		}
	}
	return b.Flush()
}

// csvHeader names the columns of WriteCSV.
var csvHeader = []string{"region", "service", "feature", "title", "objective", "availability", "met",
	"downtime_seconds", "degraded_seconds", "maintenance_seconds", "unmonitored_seconds", "outages", "from", "to"}

// WriteCSV writes r as CSV: a header line, then one row per feature.
func WriteCSV(w io.Writer, r *sla.Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, f := range r.Features {
		row := []string{r.Region, f.Service, f.Feature, f.Title, num(f.Objective), num(f.Availability),
			strconv.FormatBool(f.Met), num(f.DowntimeSeconds), num(f.DegradedSeconds), num(f.MaintenanceSeconds),
			num(f.UnmonitoredSeconds), strconv.Itoa(len(f.Outages)), r.From.Format(time.RFC3339), r.To.Format(time.RFC3339)}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes r as indented JSON, the field names of the HTTP API's
// /api/v1/report.
func WriteJSON(w io.Writer, r *sla.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// percent formats a ratio as a percentage with enough digits for SLOs.
func percent(ratio float64) string {
	return strconv.FormatFloat(ratio*100, 'f', 3, 64) + "%"
}

// humanDuration formats seconds as e.g. "1h2m3s", "0s".
func humanDuration(sec float64) string {
	return (time.Duration(sec*float64(time.Second)) / time.Second * time.Second).String()
}

// mdEscape keeps table cells intact.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}
