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

// WriteReportMarkdown writes the global report as a Markdown table per
// feature and a list of its global outages.
func WriteReportMarkdown(w io.Writer, rep globalview.Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Global SLA report\n\n%s to %s (UTC); regions: %s\n\n", rep.From.UTC().Format(time.RFC3339),
		rep.To.UTC().Format(time.RFC3339), strings.Join(rep.Regions, ", "))
	b.WriteString("| service | feature | objective | availability | met | down | regional | unmonitored | outages |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, f := range rep.Features {
		met := "no"
		if f.Met {
			met = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s%% | %s%% | %s | %s | %s | %s | %d |\n", f.Service, f.Feature, percent(f.Objective),
			percent(f.Availability), met, seconds(f.DowntimeSeconds), seconds(f.RegionalSeconds),
			seconds(f.UnmonitoredSeconds), len(f.Outages))
	}
	for _, f := range rep.Features {
		if len(f.Outages) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n## %s / %s: global outages\n\n", f.Service, f.Feature)
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
