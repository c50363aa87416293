package probeconfig

import (
	"encoding/json"
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// Regexp is a regular expression read from YAML; a bad one is a config error.
type Regexp struct {
	*regexp.Regexp
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (r *Regexp) UnmarshalYAML(node *yaml.Node) error {
	var s string
	if err := node.Decode(&s); err != nil {
		return fmt.Errorf("regexp must be a string")
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return fmt.Errorf("bad regexp %q: %v", s, err)
	}
	r.Regexp = re
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (r Regexp) MarshalYAML() (any, error) {
	if r.Regexp == nil {
		return "", nil
	}
	return r.String(), nil
}

// MarshalJSON renders the pattern.
func (r Regexp) MarshalJSON() ([]byte, error) {
	if r.Regexp == nil {
		return json.Marshal("")
	}
	return json.Marshal(r.String())
}
