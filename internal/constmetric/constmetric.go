// Package constmetric provides a gauge or counter sample with shared,
// pre-sorted label pairs: what the agent's big collectors (per check, per
// feature) emit on every scrape. Cheaper than prometheus.MustNewConstMetric,
// which validates, copies and sorts the labels each time.
package constmetric

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Sample is one value of Descriptor with Labels, which must be sorted by name
// and hold exactly the descriptor's constant and variable labels. Labels may be
// shared between scrapes and samples: Write never modifies them.
type Sample struct {
	Descriptor *prometheus.Desc
	Labels     []*dto.LabelPair
	Value      float64
	Counter    bool
}

// Desc implements prometheus.Metric.
func (s *Sample) Desc() *prometheus.Desc { return s.Descriptor }

// Write implements prometheus.Metric.
func (s *Sample) Write(out *dto.Metric) error {
	out.Label = s.Labels
	v := s.Value
	if s.Counter {
		out.Counter = &dto.Counter{Value: &v}
	} else {
		out.Gauge = &dto.Gauge{Value: &v}
	}
	return nil
}
