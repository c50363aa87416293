package config

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Defaults of vigil global's file.
const (
	DefaultMinRegions = 2
	DefaultStaleAfter = 30 * time.Second
)

// GlobalRole is the config file of `vigil global`, the view across
// regions: where the agents' records are (NATS), how many regions must
// agree that a feature is down, and the objectives of the global SLA.
type GlobalRole struct {
	NATS NATS `yaml:"nats" json:"nats"`
	// MinRegions is how many monitoring regions must see a feature down
	// for it to be down globally; MinRegionsFor overrides it per "service"
	// or "service/feature" (the longer key wins).
	MinRegions    int            `yaml:"min_regions,omitempty" json:"min_regions"`
	MinRegionsFor map[string]int `yaml:"min_regions_for,omitempty" json:"min_regions_for,omitempty"`
	// Objective is a percentage (99.9); Objectives per "service" or
	// "service/feature".
	Objective  float64            `yaml:"objective,omitempty" json:"objective"`
	Objectives map[string]float64 `yaml:"objectives,omitempty" json:"objectives,omitempty"`
	// StaleAfter: an agent silent this long does not monitor from its last
	// heartbeat on.
	StaleAfter probeconfig.Duration `yaml:"stale_after,omitempty" json:"stale_after"`

	// File is the path the config was read from.
	File string `yaml:"-" json:"-"`
}

// LoadGlobalRole reads, decodes, applies defaults to and validates vigil
// global's file at path; errors name the file, line and key as Load's.
func LoadGlobalRole(path string) (*GlobalRole, error) {
	data, err := readConfig(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read config: %v", unwrapPath(err))}}
	}
	return ParseGlobalRole(path, data)
}

// ParseGlobalRole is LoadGlobalRole for bytes already read.
func ParseGlobalRole(file string, data []byte) (*GlobalRole, error) {
	p := newParser(file)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, Errors{{File: file, Msg: "config is empty: it needs at least nats.url"}}
	}
	doc, err := p.document(data)
	if err != nil {
		return nil, err
	}
	cfg := walkDecoded[GlobalRole](p, doc)
	if cfg == nil {
		return nil, p.sorted()
	}
	cfg.File = file
	p.globalRole(cfg)
	if len(p.errs) > 0 {
		return nil, p.sorted()
	}
	return cfg, nil
}

func (p *parser) globalRole(c *GlobalRole) {
	if !p.present("nats") {
		p.add("nats", "is required: {url: nats://host:4222}")
	} else {
		p.nats("nats", &c.NATS)
	}
	if !p.present("min_regions") {
		c.MinRegions = DefaultMinRegions
	} else if c.MinRegions < 1 {
		p.add("min_regions", "%d must be at least 1", c.MinRegions)
	}
	for _, key := range sortedKeys(c.MinRegionsFor) {
		p.featureKey("min_regions_for", key)
		if n := c.MinRegionsFor[key]; n < 1 {
			p.add("min_regions_for."+key, "%d must be at least 1", n)
		}
	}
	if !p.present("objective") {
		c.Objective = DefaultObjective
	} else {
		p.objective("objective", c.Objective)
	}
	for _, key := range sortedKeys(c.Objectives) {
		p.featureKey("objectives", key)
		p.objective("objectives."+key, c.Objectives[key])
	}
	if !p.present("stale_after") {
		c.StaleAfter = probeconfig.Duration(DefaultStaleAfter)
	} else if c.StaleAfter < probeconfig.Duration(time.Second) {
		p.add("stale_after", "must be at least 1s, not %s", c.StaleAfter)
	}
}

// featureKey checks a key of a per-feature map: "service" or
// "service/feature".
func (p *parser) featureKey(path, key string) {
	parts := strings.Split(key, "/")
	ok := len(parts) <= 2
	for _, part := range parts {
		ok = ok && nameRe.MatchString(part)
	}
	if !ok {
		p.add(path+"."+key, "%q must be a service or service/feature (names [a-z0-9_-]+)", key)
	}
}

// objective checks a percentage as slo.objective is checked.
func (p *parser) objective(path string, v float64) {
	switch {
	case v <= 0 || v >= 100:
		p.add(path, "must be a percentage in (0, 100), like 99.9, not %v", v)
	case math.Round(v*1e7) >= 1e9:
		p.add(path, "%v rounds to 100%%: at most 7 decimal places count", v)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
