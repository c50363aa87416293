package globalrole

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/internal/globalview"
)

// WriteReportJSON writes the global report as the API serves it.
func WriteReportJSON(w io.Writer, rep globalview.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteReportMarkdown writes the global report as a Markdown table of the
// features, then per feature its regions' own figures and its global
// outages.
func WriteReportMarkdown(w io.Writer, rep globalview.Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Global SLA report\n\n%s to %s (UTC); regions: %s\n\n", rep.From.UTC().Format(time.RFC3339),
		rep.To.UTC().Format(time.RFC3339), strings.Join(rep.Regions, ", "))
	b.WriteString("| service | feature | objective | availability | met | down | regional | maintenance | unmonitored | outages |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, f := range rep.Features {
		met := "no"
		if f.Met {
			met = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s%% | %s%% | %s | %s | %s | %s | %s | %d |\n", f.Service, f.Feature, percent(f.Objective),
			percent(f.Availability), met, seconds(f.DowntimeSeconds), seconds(f.RegionalSeconds),
			seconds(f.MaintenanceSeconds), seconds(f.UnmonitoredSeconds), len(f.Outages))
	}
	for _, f := range rep.Features {
		fmt.Fprintf(&b, "\n## %s / %s\n\n", f.Service, f.Feature)
		b.WriteString("| region | availability | down | degraded | maintenance | unmonitored |\n|---|---|---|---|---|---|\n")
		for _, r := range f.Regions {
			avail := percent(r.Availability) + "%"
			if r.NoData {
				avail = "no data"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Region, avail, seconds(r.DowntimeSeconds),
				seconds(r.DegradedSeconds), seconds(r.MaintenanceSeconds), seconds(r.UnmonitoredSeconds))
		}
		if len(f.Outages) == 0 {
			continue
		}
		b.WriteString("\nGlobal outages:\n\n")
		for _, o := range f.Outages {
			end := "ongoing"
			if o.End != nil {
				end = o.End.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(&b, "- %s to %s (%s), regions %s\n", o.Start.UTC().Format(time.RFC3339), end,
				seconds(o.DurationSeconds), strings.Join(o.Regions, ", "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func percent(ratio float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4f", ratio*100), "0"), ".")
}

func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}
