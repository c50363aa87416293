package probeconfig

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration read from YAML in Prometheus' form: "250ms", "30s",
// "5m", "1h", "30d", "1w".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(node *yaml.Node) error {
	// A string is its text: decoding it (a decoder each) was a third of
	// the garbage of reading the durations of a large config.
	s := node.Value
	if node.Kind != yaml.ScalarNode || node.ShortTag() != "!!str" {
		if err := node.Decode(&s); err != nil {
			return fmt.Errorf("duration must be a string like 30s: %w", err)
		}
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON renders the duration as a string like "30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d Duration) String() string { return model.Duration(d).String() }

// ParseDuration parses a Prometheus-style duration ("30s", "1h30m", "30d").
func ParseDuration(s string) (time.Duration, error) {
	v, err := model.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want a number and unit such as 500ms, 30s, 5m, 1h, 30d", s)
	}
	return time.Duration(v), nil
}
