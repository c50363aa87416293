// Package report renders the SLA report for people, spreadsheets and
// contracts: Markdown, CSV, JSON, HTML and PDF of an sla.Report, with
// coverage, contract figures (covered hours, credits) and a digest of the
// records it was computed from, as `vigil report` and /api/v1/report write
// them. The engine computes the figures; this package lays them out and
// adds what the contract terms make of the engine's spans.
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
)

// WriteMarkdown writes d as Markdown: the header, a table per service, the
// contract figures and the outages.
func WriteMarkdown(w io.Writer, d *Document) error {
	b := bufio.NewWriter(w)
	fmt.Fprintf(b, "# SLA report: %s\n\n", mdEscape(d.header()[0][1]))
	for _, kv := range d.header()[1:] {
		fmt.Fprintf(b, "- %s: %s\n", kv[0], mdEscape(kv[1]))
	}
	for _, t := range d.tables() {
		fmt.Fprintf(b, "\n## %s\n\n", mdEscape(t.Title))
		if len(t.Rows) == 0 {
			fmt.Fprintln(b, t.Empty)
			continue
		}
		fmt.Fprintf(b, "| %s |\n|", strings.Join(t.Head, " | "))
		for _, right := range t.Right {
			if right {
				b.WriteString("---:|")
			} else {
				b.WriteString("---|")
			}
		}
		b.WriteString("\n")
		for _, row := range t.Rows {
			cells := make([]string, len(row))
			for i, c := range row {
				cells[i] = mdEscape(c)
			}
			fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
		}
	}
	return b.Flush()
}

// csvHeader names the columns of WriteCSV.
var csvHeader = []string{"region", "service", "feature", "title", "objective", "availability", "met",
	"downtime_seconds", "degraded_seconds", "maintenance_seconds", "unmonitored_seconds", "outages", "from", "to",
	"monitored_seconds", "range_seconds", "insufficient_data", "error_budget_remaining",
	"contract_objective", "contract_covered_seconds", "contract_monitored_seconds", "contract_maintenance_seconds",
	"contract_eligible_seconds", "contract_downtime_seconds", "contract_availability", "contract_met",
	"contract_error_budget_remaining", "contract_insufficient_data", "contract_credit_percent", "digest"}

// WriteCSV writes d as CSV: a header line, then one row per feature; the
// contract columns are empty for a feature without a contract, and every row
// carries the digest.
func WriteCSV(w io.Writer, d *Document) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, f := range d.Features {
		row := []string{d.Region, f.Service, f.Feature, f.Title, num(f.Objective), num(f.Availability),
			strconv.FormatBool(f.Met), num(f.DowntimeSeconds), num(f.DegradedSeconds), num(f.MaintenanceSeconds),
			num(f.UnmonitoredSeconds), strconv.Itoa(len(f.Outages)), d.From.Format(time.RFC3339), d.To.Format(time.RFC3339),
			num(f.Coverage.MonitoredSeconds), num(f.Coverage.Seconds), strconv.FormatBool(f.InsufficientData), num(f.ErrorBudgetRemaining)}
		if c := f.Contract; c != nil {
			credit := "0"
			if c.Credit != nil {
				credit = num(c.Credit.Credit)
			}
			row = append(row, num(c.Objective), num(c.Coverage.Seconds), num(c.Coverage.MonitoredSeconds), num(c.MaintenanceSeconds),
				num(c.EligibleSeconds), num(c.DowntimeSeconds), num(c.Availability), strconv.FormatBool(c.Met),
				num(c.ErrorBudgetRemaining), strconv.FormatBool(c.InsufficientData), credit)
		} else {
			row = append(row, make([]string, 11)...)
		}
		row = append(row, d.Digest)
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes d as indented JSON, the field names of the HTTP API's
// /api/v1/report.
func WriteJSON(w io.Writer, d *Document) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// percent formats a ratio as a percentage with enough digits for SLOs.
func percent(ratio float64) string {
	return strconv.FormatFloat(ratio*100, 'f', 3, 64) + "%"
}

// humanDuration formats seconds as e.g. "1h2m3s", "0s".
func humanDuration(sec float64) string {
	return (time.Duration(sec*float64(time.Second)) / time.Second * time.Second).String()
}

// mdEscape keeps table cells intact and markup in titles from being read
// as HTML.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "<", `\<`, "\n", " ", "\r", " ").Replace(s)
}
