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
	for _, ref := range append(c.Checks(), c.Canaries()...) {
		if ref.Check.Uses("browser") {
			return true
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
