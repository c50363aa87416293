package config

// Browser is `agent.browser`: the headless Chromium that browser checks
// (and journeys' browser steps) drive. Changing it takes a restart.
type Browser struct {
	// Path is the browser's program; "" looks it up on PATH (chromium,
	// chromium-browser, google-chrome, google-chrome-stable).
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// MaxConcurrent bounds the browsers running at once (default 2: each
	// is a Chromium process of a few hundred MiB).
	MaxConcurrent int `yaml:"max_concurrent,omitempty" json:"max_concurrent"`
}

// DefaultBrowserMaxConcurrent is agent.browser.max_concurrent's default.
const DefaultBrowserMaxConcurrent = 2

// UsesBrowser reports whether a check or canary of c drives a browser.
func (c *Config) UsesBrowser() bool {
	// Over the checks in place: listing them (Checks) built a ref and an ID
	// for each, 5 MB of garbage at 50,000 checks.
	for ci := range c.Agent.Canaries {
		if c.Agent.Canaries[ci].Uses("browser") {
			return true
		}
	}
	for si := range c.Services {
		for fi := range c.Services[si].Features {
			f := &c.Services[si].Features[fi]
			for ci := range f.Checks {
				if f.Checks[ci].Uses("browser") {
					return true
				}
			}
		}
	}
	return false
}

// browser fills agent.browser's defaults and checks it.
func (p *parser) browser(b *Browser) {
	switch {
	case !p.present("agent.browser.max_concurrent"):
		b.MaxConcurrent = DefaultBrowserMaxConcurrent
	case b.MaxConcurrent < 1:
		p.add("agent.browser.max_concurrent", "must be > 0 (leave the key out for the default, %d)", DefaultBrowserMaxConcurrent)
	}
}
