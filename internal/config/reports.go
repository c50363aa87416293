package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/internal/delivery"
)

// Report formats a scheduled report may be sent in.
var reportFormats = []string{"markdown", "csv", "json", "html", "pdf"}

// Report is one entry of `reports`: a report sent on a cron schedule
// (issue 21). Replicas of the agent deliver it once per period between them
// when the agent has a global block (claims in the NATS key-value bucket
// vigil_reports); a firing missed while the agent was down is sent, marked
// late, on its next start.
type Report struct {
	Name     string   `yaml:"name" json:"name"`
	Cron     string   `yaml:"cron" json:"cron"`
	Timezone string   `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	Range    string   `yaml:"range,omitempty" json:"range,omitempty"`   // default previous-month
	Format   string   `yaml:"format,omitempty" json:"format,omitempty"` // default markdown
	To       []string `yaml:"to" json:"to"`

	// Location is Timezone loaded (UTC when empty).
	Location *time.Location `yaml:"-" json:"-"`
}

// Schedule is the report as the delivery package takes it.
func (r *Report) Schedule() delivery.Schedule {
	return delivery.Schedule{Name: r.Name, Cron: r.Cron, Location: r.Location, Range: r.Range, Format: r.Format, To: r.To}
}

// reports fills the reports' defaults and checks them.
func (p *parser) reports(c *Config) {
	seen := map[string]bool{}
	for i := range c.Reports {
		r := &c.Reports[i]
		base := fmt.Sprintf("reports[%d]", i)
		if r.Range == "" {
			r.Range = delivery.RangePreviousMonth
		}
		if r.Format == "" {
			r.Format = "markdown"
		} else if !slices.Contains(reportFormats, r.Format) {
			p.add(base+".format", "%q is not one of %v", r.Format, reportFormats)
		}
		r.Location = time.UTC
		if r.Timezone != "" {
			loc, err := time.LoadLocation(r.Timezone)
			if err != nil {
				p.add(base+".timezone", "%q: %v", r.Timezone, err)
			} else {
				r.Location = loc
			}
		}
		if seen[r.Name] {
			p.add(base+".name", "%q is used by an earlier report", r.Name)
		}
		seen[r.Name] = true
		s := r.Schedule()
		if _, err := s.Validate(); err != nil { // delivery's errors read "field: what"
			field, msg, _ := strings.Cut(err.Error(), ": ")
			p.add(base+"."+field, "%s", msg)
		}
	}
}
