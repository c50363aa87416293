package web

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/vigil-monitoring/vigil/internal/config"
	"github.com/vigil-monitoring/vigil/sla"
)

// ConfigSource is implemented by a backend that runs from a vigil.yml (the
// agent): the pages take from it the titles per language, the order of the
// services and the web block (web.public, web.timezone). It follows reloads.
type ConfigSource interface {
	Config() *config.Config
}

// IncidentUpdate is an operator's word on an incident: when, the incident's
// status then (investigating, identified, monitoring, resolved) and the
// message in one or more languages (BCP 47 tag to text).
type IncidentUpdate struct {
	Time    time.Time         `json:"at"`
	Status  string            `json:"status"`
	Message map[string]string `json:"message"`
	Author  string            `json:"author,omitempty"`
}

// ManualIncident is an incident an operator opened (internal/notify), for
// trouble the probes cannot see: shown beside the grouped ones while open.
type ManualIncident struct {
	ID string `json:"id"`
	// Title by language ("en", "ko").
	Title map[string]string `json:"title"`
	// Affected are "service" or "service/feature" names.
	Affected []string         `json:"affected"`
	Status   string           `json:"status"`
	Start    time.Time        `json:"start"`
	End      *time.Time       `json:"end"`
	Updates  []IncidentUpdate `json:"updates"`
}

// MaintenanceWindow is planned work shown on the page and in the feed: a
// window of the config, or one declared at run time. Service and Feature
// name what it covers ("" for every feature of the service).
type MaintenanceWindow struct {
	ID               string
	Service, Feature string
	Start, End       time.Time
	Reason           string
}

// pageConfig is what the pages read from the config; the zero value (no
// config) keeps the engine's titles and order.
type pageConfig struct {
	cfg      *config.Config
	public   bool
	location *time.Location // nil: not set by the config
	// order ranks services and features ({service, ""}, {service, feature})
	// in config order; titles holds their titles as written.
	order  map[[2]string]int
	titles map[[2]string]config.Text
}

// configCache builds a pageConfig once per loaded config.
type configCache struct {
	mu   sync.Mutex
	last *pageConfig
}

func (c *configCache) get(src ConfigSource) *pageConfig {
	cfg := src.Config()
	if cfg == nil {
		return &pageConfig{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last != nil && c.last.cfg == cfg {
		return c.last
	}
	pc := &pageConfig{cfg: cfg, public: cfg.Web.Public, location: cfg.Web.Location,
		order: map[[2]string]int{}, titles: map[[2]string]config.Text{}}
	n := 0
	for _, s := range cfg.Services {
		pc.order[[2]string{s.Name, ""}] = n
		pc.titles[[2]string{s.Name, ""}] = s.Titles
		n++
		for _, f := range s.Features {
			pc.order[[2]string{s.Name, f.Name}] = n
			pc.titles[[2]string{s.Name, f.Name}] = f.Titles
			n++
		}
	}
	c.last = pc
	return pc
}

// pageConfig is the config's view for the pages, the zero one when the
// backend has no config.
func (s *Server) pageConfig() *pageConfig {
	if src, ok := s.backend.(ConfigSource); ok {
		return s.configs.get(src)
	}
	return &pageConfig{}
}

// serviceTitle is the service's title in c's language, else its one title,
// else its name.
func (pc *pageConfig) serviceTitle(c *catalog, service, title string) string {
	if t, ok := pc.titles[[2]string{service, ""}]; ok && !t.IsZero() {
		return t.In(c.lang)
	}
	return orName(title, service)
}

// featureTitle is serviceTitle for a feature.
func (pc *pageConfig) featureTitle(c *catalog, service, feature, title string) string {
	if t, ok := pc.titles[[2]string{service, feature}]; ok && !t.IsZero() {
		return t.In(c.lang)
	}
	return orName(title, feature)
}

// rank is the config position of a service or feature; those the config
// does not know (or with no config) come after, in the engine's order.
func (pc *pageConfig) rank(service, feature string) int {
	if i, ok := pc.order[[2]string{service, feature}]; ok {
		return i
	}
	return len(pc.order)
}

// severity ranks a state worst first: down, recovering, degraded,
// maintenance, unknown, up.
func severity(s sla.State) int {
	if i := slices.Index(summaryOrder, s); i >= 0 {
		return i
	}
	return len(summaryOrder)
}

// orderFeatures sorts features for the page: services by their worst
// feature, then in config order; within a service, features by severity,
// then in config order. The sort is stable, so without a config the
// engine's order (by name) breaks ties.
func (pc *pageConfig) orderFeatures(features []sla.FeatureStatus) []sla.FeatureStatus {
	worst := map[string]int{}
	for _, f := range features {
		if w, ok := worst[f.Service]; !ok || severity(f.State) < w {
			worst[f.Service] = severity(f.State)
		}
	}
	out := slices.Clone(features)
	slices.SortStableFunc(out, func(a, b sla.FeatureStatus) int {
		if a.Service != b.Service {
			return cmp.Or(cmp.Compare(worst[a.Service], worst[b.Service]),
				cmp.Compare(pc.rank(a.Service, ""), pc.rank(b.Service, "")), cmp.Compare(a.Service, b.Service))
		}
		return cmp.Or(cmp.Compare(severity(a.State), severity(b.State)),
			cmp.Compare(pc.rank(a.Service, a.Feature), pc.rank(b.Service, b.Feature)))
	})
	return out
}

// configOrder sorts features by service and feature in config order (the
// bulletin's order, which does not move with the states).
func (pc *pageConfig) configOrder(features []sla.FeatureStatus) []sla.FeatureStatus {
	out := slices.Clone(features)
	slices.SortStableFunc(out, func(a, b sla.FeatureStatus) int {
		if a.Service != b.Service {
			return cmp.Or(cmp.Compare(pc.rank(a.Service, ""), pc.rank(b.Service, "")), cmp.Compare(a.Service, b.Service))
		}
		return cmp.Compare(pc.rank(a.Service, a.Feature), pc.rank(b.Service, b.Feature))
	})
	return out
}

// localized returns features with their titles in c's language.
func (pc *pageConfig) localized(features []sla.FeatureStatus, c *catalog) []sla.FeatureStatus {
	out := slices.Clone(features)
	for i := range out {
		f := &out[i]
		f.ServiceTitle = pc.serviceTitle(c, f.Service, f.ServiceTitle)
		f.Title = pc.featureTitle(c, f.Service, f.Feature, f.Title)
	}
	return out
}
