package browserprobe

import (
	"bytes"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// decode reads a browser block as the config package does: unknown keys are
// errors.
func decode(t *testing.T, src string) (*Config, error) {
	t.Helper()
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader([]byte(src)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

func TestConfigExample(t *testing.T) {
	c, err := decode(t, `
url: http://127.0.0.1:8080/map
steps:
  - wait_visible: "#roadview"
  - click: "button.go"
  - type: {selector: "#q", text: "seoul station"}
  - assert_text: {selector: "h1", contains: "Road view"}
  - assert_attribute: {selector: "img#pano", name: src, matches: "^/tiles/"}
fail_on_console_error: true
fail_on_request_error: false
viewport: {width: 1024, height: 700}
keep_screenshots: 3
`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.compile()
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	var got []string
	for _, a := range p.steps {
		got = append(got, a.describe())
	}
	want := []string{`wait_visible "#roadview"`, `click "button.go"`, `type "#q"`, `assert_text "h1"`, `assert_attribute "img#pano"`}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("steps %q, want %q", got, want)
	}
	if p.steps[2].text != "seoul station" || p.steps[3].text != "Road view" || p.steps[4].attribute != "src" || p.steps[4].matches.String() != "^/tiles/" {
		t.Errorf("step values lost: %+v", p.steps)
	}
	if !p.failOnConsoleError || p.failOnRequestError || p.width != 1024 || p.height != 700 || p.keepScreenshots != 3 {
		t.Errorf("plan %+v", p)
	}

	c, err = decode(t, "url: https://map.example.com/\n")
	if err != nil {
		t.Fatal(err)
	}
	if p, err = c.compile(); err != nil || p.width != 1280 || p.height != 800 || p.keepScreenshots != 5 || p.failOnConsoleError || p.failOnRequestError {
		t.Errorf("defaults: %+v, %v; want 1280x800, 5 screenshots, no fail_on_*", p, err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // each error line, in order
	}{
		{"no url", "steps: [{click: a}]", []string{"url: is required"}},
		{"not http", "url: ftp://x/", []string{`url: "ftp://x/" is not an http:// or https:// URL with a host`}},
		{"no host", "url: http:///x", []string{`url: "http:///x" is not an http:// or https:// URL with a host`}},
		{"empty step", "url: http://x/\nsteps: [{}]", []string{"steps[0]: empty step: set one of wait_visible, click, type, assert_text or assert_attribute"}},
		{"two actions", "url: http://x/\nsteps: [{click: a, wait_visible: b}]", []string{"steps[0]: a step does one thing; it sets 2: [wait_visible click]"}},
		{"step parts missing", "url: http://x/\nsteps: [{type: {text: hi}}, {assert_text: {selector: h1}}, {assert_attribute: {selector: img}}]", []string{
			"steps[0].type.selector: is required",
			"steps[1].assert_text.contains: is required",
			"steps[2].assert_attribute.name: is required",
			"steps[2].assert_attribute.matches: is required",
		}},
		{"bad viewport and keep", "url: http://x/\nviewport: {width: -1, height: 9000}\nkeep_screenshots: -2", []string{
			"viewport.width: -1 is not in 1..8192",
			"viewport.height: 9000 is not in 1..8192",
			"keep_screenshots: -2 is negative",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := decode(t, tt.yaml)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if err == nil {
				t.Fatalf("Validate passed, want %q", tt.want)
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("errors\n%s\nwant\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestConfigRejectsUnknownKeysAndBadRegexp(t *testing.T) {
	for src, want := range map[string]string{
		"url: http://x/\nsteps: [{hover: a}]":                                                 "field hover not found",
		"url: http://x/\nfail_on_js_error: true":                                              "field fail_on_js_error not found",
		"url: http://x/\nsteps: [{assert_attribute: {selector: a, name: b, matches: \"(\"}}]": "bad regexp",
	} {
		if _, err := decode(t, src); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("decode %q: %v, want an error containing %q", src, err, want)
		}
	}
}
