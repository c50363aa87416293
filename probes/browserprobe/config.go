package browserprobe

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// Defaults of the keys whose zero value is not the default.
const (
	defaultWidth           = 1280
	defaultHeight          = 800
	defaultKeepScreenshots = 5
	// maxViewport bounds a side of the viewport: a full-page screenshot of a
	// huge viewport costs the agent memory for nothing.
	maxViewport = 8192
)

// Config is the `browser` block of a check. A zero field means its documented
// default, so a Config built in Go behaves like one decoded from YAML. ${var}
// in strings is replaced by the journey kind before the block is decoded; the
// browser kind takes the strings as they are.
type Config struct {
	// URL is the page opened first, http:// or https://. Required.
	URL string `yaml:"url" json:"url"`
	// Steps run in order after the page has loaded; the first that fails ends
	// the run.
	Steps []Step `yaml:"steps,omitempty" json:"steps,omitempty"`
	// FailOnConsoleError fails a run whose page logged console.error or threw
	// an uncaught exception; default false (they are listed either way).
	FailOnConsoleError bool `yaml:"fail_on_console_error,omitempty" json:"fail_on_console_error,omitempty"`
	// FailOnRequestError fails a run in which a request of the page failed or
	// got a status of 400 or more; default false (they are listed either way).
	// The page itself answering 400 or more always fails the run.
	FailOnRequestError bool `yaml:"fail_on_request_error,omitempty" json:"fail_on_request_error,omitempty"`
	// Viewport is the window size in CSS pixels; default 1280x800.
	Viewport Viewport `yaml:"viewport,omitempty" json:"viewport,omitzero"`
	// KeepScreenshots is how many screenshots of failed runs are kept per
	// check, the newest; default 5.
	KeepScreenshots int `yaml:"keep_screenshots,omitempty" json:"keep_screenshots,omitempty"`
}

// Viewport is the size of the page's window.
type Viewport struct {
	Width  int `yaml:"width,omitempty" json:"width,omitempty"`
	Height int `yaml:"height,omitempty" json:"height,omitempty"`
}

// Step is one action on the page; exactly one of its keys is set. Selectors
// are CSS selectors (document.querySelector); every step waits for its
// element, up to the run's timeout.
type Step struct {
	// WaitVisible waits until the element is visible.
	WaitVisible string `yaml:"wait_visible,omitempty" json:"wait_visible,omitempty"`
	// Click waits until the element is visible and clicks it.
	Click string `yaml:"click,omitempty" json:"click,omitempty"`
	// Type focuses the element and types text into it as key presses.
	Type *TypeStep `yaml:"type,omitempty" json:"type,omitempty"`
	// AssertText fails unless the element's visible text contains a string.
	AssertText *AssertText `yaml:"assert_text,omitempty" json:"assert_text,omitempty"`
	// AssertAttribute fails unless the element's attribute matches a regexp.
	AssertAttribute *AssertAttribute `yaml:"assert_attribute,omitempty" json:"assert_attribute,omitempty"`
}

// TypeStep is a type step: Text typed into the element Selector.
type TypeStep struct {
	Selector string `yaml:"selector" json:"selector"`
	Text     string `yaml:"text" json:"text"`
}

// AssertText is an assert_text step: the visible text of Selector must
// contain Contains.
type AssertText struct {
	Selector string `yaml:"selector" json:"selector"`
	Contains string `yaml:"contains" json:"contains"`
}

// AssertAttribute is an assert_attribute step: attribute Name of Selector must
// be present and match Matches (unanchored, as Go's regexp).
type AssertAttribute struct {
	Selector string             `yaml:"selector" json:"selector"`
	Name     string             `yaml:"name" json:"name"`
	Matches  probeconfig.Regexp `yaml:"matches" json:"matches"`
}

// Validate checks the block; errors are probeconfig.FieldErrors relative to
// it, joined with errors.Join.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

// plan is a Config checked, with its defaults applied.
type plan struct {
	url                string
	steps              []action
	failOnConsoleError bool
	failOnRequestError bool
	width, height      int64
	keepScreenshots    int
}

// compile checks c and returns the plan; all problems are reported at once.
func (c *Config) compile() (*plan, error) {
	p := &plan{
		url:                c.URL,
		failOnConsoleError: c.FailOnConsoleError,
		failOnRequestError: c.FailOnRequestError,
		width:              int64(c.Viewport.Width),
		height:             int64(c.Viewport.Height),
		keepScreenshots:    c.KeepScreenshots,
	}
	var errs []error
	if c.URL == "" {
		errs = append(errs, probeconfig.Errorf("url", "is required"))
	} else if u, err := url.Parse(c.URL); err != nil {
		errs = append(errs, probeconfig.Errorf("url", "%v", err))
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, probeconfig.Errorf("url", "%q is not an http:// or https:// URL with a host", c.URL))
	}
	if p.width == 0 {
		p.width = defaultWidth
	}
	if p.height == 0 {
		p.height = defaultHeight
	}
	if p.width < 0 || p.width > maxViewport {
		errs = append(errs, probeconfig.Errorf("viewport.width", "%d is not in 1..%d", c.Viewport.Width, maxViewport))
	}
	if p.height < 0 || p.height > maxViewport {
		errs = append(errs, probeconfig.Errorf("viewport.height", "%d is not in 1..%d", c.Viewport.Height, maxViewport))
	}
	switch {
	case c.KeepScreenshots == 0:
		p.keepScreenshots = defaultKeepScreenshots
	case c.KeepScreenshots < 0:
		errs = append(errs, probeconfig.Errorf("keep_screenshots", "%d is negative", c.KeepScreenshots))
	}
	for i, step := range c.Steps {
		a, err := step.compile()
		if err != nil {
			errs = append(errs, probeconfig.Prefix("steps["+strconv.Itoa(i)+"]", err))
			continue
		}
		p.steps = append(p.steps, a)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// stepKeys are a step's keys in the order errors list them.
var stepKeys = "wait_visible, click, type, assert_text or assert_attribute"

// compile checks one step and returns its action.
func (s Step) compile() (action, error) {
	var set []string
	var a action
	if s.WaitVisible != "" {
		set = append(set, "wait_visible")
		a = action{verb: "wait_visible", selector: s.WaitVisible}
	}
	if s.Click != "" {
		set = append(set, "click")
		a = action{verb: "click", selector: s.Click}
	}
	var errs []error
	need := func(key, value string) {
		if value == "" {
			errs = append(errs, probeconfig.Errorf(key, "is required"))
		}
	}
	if t := s.Type; t != nil {
		set = append(set, "type")
		a = action{verb: "type", selector: t.Selector, text: t.Text}
		need("type.selector", t.Selector)
		// An empty text is allowed: it focuses the field and types nothing.
	}
	if t := s.AssertText; t != nil {
		set = append(set, "assert_text")
		a = action{verb: "assert_text", selector: t.Selector, text: t.Contains}
		need("assert_text.selector", t.Selector)
		need("assert_text.contains", t.Contains)
	}
	if t := s.AssertAttribute; t != nil {
		set = append(set, "assert_attribute")
		a = action{verb: "assert_attribute", selector: t.Selector, attribute: t.Name, matches: t.Matches.Regexp}
		need("assert_attribute.selector", t.Selector)
		need("assert_attribute.name", t.Name)
		if t.Matches.Regexp == nil {
			errs = append(errs, probeconfig.Errorf("assert_attribute.matches", "is required"))
		}
	}
	switch len(set) {
	case 0:
		return action{}, probeconfig.Errorf("", "empty step: set one of %s", stepKeys)
	case 1:
	default:
		return action{}, probeconfig.Errorf("", "a step does one thing; it sets %d: %v", len(set), set)
	}
	if err := errors.Join(errs...); err != nil {
		return action{}, err
	}
	return a, nil
}

// describe names a step in errors: `click "button.go"`.
func (a action) describe() string {
	return fmt.Sprintf("%s %q", a.verb, a.selector)
}
