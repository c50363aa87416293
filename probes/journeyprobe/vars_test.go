package journeyprobe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

func TestSubstitute(t *testing.T) {
	vars := map[string]string{"host": "127.0.0.1", "id": "42", "evil": "${HOME}"}
	lookup := func(name string) (string, bool) { v, ok := vars[name]; return v, ok }
	tests := []struct {
		name, in, want, wantErr string
	}{
		{"values, not keys", `{url: "http://${host}/m/${id}", headers: {"${id}": "x-${id}"}, codes: [200, "${id}"]}`,
			`{url: "http://127.0.0.1/m/42", headers: {"${id}": "x-42"}, codes: [200, "42"]}`, ""},
		{"no variables", `{url: "http://a/"}`, `{url: "http://a/"}`, ""},
		{"unknown", `{url: "${nope}"}`, "", "variable ${nope} is not set"},
		{"a value holding ${", `{body: "${evil}"}`, "", `the value of variable ${evil} holds "${"`},
		{"anchors resolved", "{a: &x \"${id}\", b: *x}", `{a: "42", b: "42"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.in), &doc); err != nil {
				t.Fatal(err)
			}
			out, err := substitute(doc.Content[0], lookup)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got, want any
			if err := out.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			gb, _ := yaml.Marshal(got)
			wb, _ := yaml.Marshal(want)
			if string(gb) != string(wb) {
				t.Errorf("got\n%s\nwant\n%s", gb, wb)
			}
			// The original is untouched: the next run substitutes it again.
			if b, _ := yaml.Marshal(doc.Content[0]); strings.Contains(tt.in, "${id}") && !strings.Contains(string(b), "x-${id}") && !strings.Contains(string(b), "\"${id}\"") {
				t.Errorf("substitute changed its input:\n%s", b)
			}
		})
	}
}

func TestExtract(t *testing.T) {
	captured := &probes.Captured{
		Body:    []byte(`{"token":"t0k","id":7,"user":{"name":"alice"},"items":[{"n":1},{"n":2}]} id=99`),
		Header:  map[string][]string{"Location": {"/messages/7"}},
		Cookies: map[string]string{"session": "s-1"},
	}
	json := []byte(`{"token":"t0k","id":7,"price":1.50,"user":{"name":"alice"},"items":[{"n":1},{"n":2}]}`)
	tests := []struct {
		name    string
		x       Extract
		body    []byte
		want    string
		wantErr string
	}{
		{"json string", Extract{Var: "v", JSON: "$.token"}, json, "t0k", ""},
		{"json number as written", Extract{Var: "v", JSON: "$.price"}, json, "1.50", ""},
		{"json object", Extract{Var: "v", JSON: "$.user"}, json, `{"name":"alice"}`, ""},
		{"json filter", Extract{Var: "v", JSON: "$.items[?@.n > 1].n"}, json, "2", ""},
		{"json no match", Extract{Var: "v", JSON: "$.nope"}, json, "", `extract v: json "$.nope" matched nothing`},
		{"json not json", Extract{Var: "v", JSON: "$.a"}, []byte("<html>"), "", "extract v: the body is not JSON"},
		{"header", Extract{Var: "v", Header: "location"}, nil, "/messages/7", ""},
		{"header regexp", Extract{Var: "v", Header: "Location", Regexp: `/(\d+)$`}, nil, "7", ""},
		{"header missing", Extract{Var: "v", Header: "X-Nope"}, nil, "", "extract v: no header X-Nope in the response"},
		{"cookie", Extract{Var: "v", Cookie: "session"}, nil, "s-1", ""},
		{"cookie missing", Extract{Var: "v", Cookie: "sid"}, nil, "", "extract v: no cookie sid set by the response"},
		{"body regexp group", Extract{Var: "v", Regexp: `id=(\d+)`}, nil, "99", ""},
		{"body regexp whole", Extract{Var: "v", Regexp: `id=\d+`}, nil, "id=99", ""},
		{"body regexp no match", Extract{Var: "v", Regexp: `nope`}, nil, "", `extract v: body regexp "nope" matched nothing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, err := compileExtract(tt.x, "http")
			if err != nil {
				t.Fatal(err)
			}
			c := *captured
			if tt.body != nil {
				c.Body = tt.body
			}
			got, err := ex.extract(&c)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want prefix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("extract = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// fakeBlocks is a step's blocks with one fake kind, for tests of the
// journey's own logic.
type fakeBlocks struct {
	Fake *fakeConfig `yaml:"fake,omitempty"`
}

type fakeConfig struct {
	Say  string `yaml:"say"`
	Fail bool   `yaml:"fail"`
}

type fakeKit struct{ builds map[string]int }

func (fakeKit) Kind(b *fakeBlocks) string {
	if b.Fake != nil {
		return "fake"
	}
	return ""
}

func (fakeKit) Validate(b *fakeBlocks) error {
	if b.Fake == nil {
		return probeconfig.Errorf("", "no kind")
	}
	return nil
}

func (k fakeKit) Build(b *fakeBlocks, opts probes.Options) (probes.Prober, error) {
	k.builds[opts.CheckID]++
	return &fakeProber{cfg: *b.Fake, id: opts.CheckID}, nil
}

type fakeProber struct {
	cfg fakeConfig
	id  string
}

func (p *fakeProber) Probe(ctx context.Context) *probes.Result {
	if err := ctx.Err(); err != nil {
		return (&probes.Result{TimedOut: true}).Fail(errors.New("fake probe " + p.id + ": " + err.Error()))
	}
	r := &probes.Result{Success: !p.cfg.Fail}
	if p.cfg.Fail {
		r.Err = errors.New("fake probe " + p.id + ": said " + p.cfg.Say)
	}
	return r
}

// TestStepsBuiltOnceOrPerRun: a step without variables is built with the
// journey, one with variables at every run, and both run.
func TestStepsBuiltOnceOrPerRun(t *testing.T) {
	var cfg Config[fakeBlocks]
	doc := `
vars: {word: hello, key: "${VIGIL_JOURNEY_UNIT_KEY}"}
steps:
  - {name: fixed, fake: {say: hi}}
  - {name: templated, fake: {say: "${word} ${run.token}"}}
  - {name: leaks, fake: {say: "key=${key}", fail: true}}
`
	t.Setenv("VIGIL_JOURNEY_UNIT_KEY", "s3cr3t-key")
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	kit := fakeKit{builds: map[string]int{}}
	p, err := New(&cfg, probes.Options{CheckID: "s/f/j"}, kit)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r := p.Probe(context.Background())
		if want := "journey s/f/j: step 3 leaks: said key=<secret>"; r.ErrorString() != want {
			t.Fatalf("error = %q, want %q", r.ErrorString(), want)
		}
	}
	want := map[string]int{"s/f/j/fixed": 1, "s/f/j/templated": 3, "s/f/j/leaks": 3}
	for id, n := range want {
		if kit.builds[id] != n {
			t.Errorf("builds of %s = %d, want %d", id, kit.builds[id], n)
		}
	}
}

// BenchmarkJourneyBookkeeping is what a journey adds per run of three steps
// whose checks cost nothing (a fake kind): built once, and substituted and
// built for every run. Set against one HTTP check's run
// (BenchmarkProbe in probes/httpprobe, ~150 µs on loopback) it is the
// journey's overhead per step.
func BenchmarkJourneyBookkeeping(b *testing.B) {
	for _, variant := range []struct{ name, say string }{{"fixed", "hi"}, {"templated", "hi ${run.token}"}} {
		b.Run(variant.name, func(b *testing.B) {
			var cfg Config[fakeBlocks]
			doc := "steps:\n"
			for _, name := range []string{"one", "two", "three"} {
				doc += "  - {name: " + name + ", fake: {say: \"" + variant.say + "\"}}\n"
			}
			if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
				b.Fatal(err)
			}
			p, err := New(&cfg, probes.Options{CheckID: "s/f/j"}, fakeKit{builds: map[string]int{}})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if !p.Probe(ctx).Success {
					b.Fatal("run failed")
				}
			}
		})
	}
}

// TestValidateLeavesRunTimeValuesToTheRun: a key whose value comes from an
// extracted variable (a whole URL from a Location header) is checked when
// the step runs, not at load with a sample; a constant is checked at load.
func TestValidateLeavesRunTimeValuesToTheRun(t *testing.T) {
	kit := fakeKit{builds: map[string]int{}}
	extractKinds["fake"] = true
	defer delete(extractKinds, "fake")
	tests := []struct {
		name, doc, wantErr string
	}{
		{"extracted whole value", `
steps:
  - {name: one, fake: {say: hi}, extract: [{var: next, regexp: "h"}]}
  - {name: two, fake: {say: "${next}"}}
`, ""},
		{"constant checked at load", `
vars: {word: "bye"}
steps:
  - {name: one, fake: {say: "${word}"}}
`, `steps[0].fake.say: must start with "h", not "bye"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg Config[fakeBlocks]
			if err := yaml.Unmarshal([]byte(tt.doc), &cfg); err != nil {
				t.Fatal(err)
			}
			err := cfg.Validate(validatingKit{kit})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// validatingKit is fakeKit whose blocks must say something starting with
// "h" (as a URL must start with http).
type validatingKit struct{ fakeKit }

func (k validatingKit) Validate(b *fakeBlocks) error {
	if err := k.fakeKit.Validate(b); err != nil {
		return err
	}
	if !strings.HasPrefix(b.Fake.Say, "h") {
		return probeconfig.Errorf("fake.say", "must start with %q, not %q", "h", b.Fake.Say)
	}
	return nil
}

// TestMergedStepIsTemplated: a step that takes its block through a merge key
// (`<<: *step`) is substituted like one that writes it.
func TestMergedStepIsTemplated(t *testing.T) {
	var cfg Config[fakeBlocks]
	doc := `
steps:
  - &base {name: one, fake: {say: "h ${run.token}"}}
  - {<<: *base, name: two}
`
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	c, err := cfg.compile(fakeKit{builds: map[string]int{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.steps {
		if !s.templated || s.block == nil {
			t.Errorf("step %s: templated %v, block %v", s.name, s.templated, s.block)
		}
	}
}

// TestPastTheDeadline: once the journey's time is up, a step fails at once as
// timed out, and an always step still runs, on its own clock.
func TestPastTheDeadline(t *testing.T) {
	var cfg Config[fakeBlocks]
	doc := `
steps:
  - {name: one, fake: {say: hi}}
  - {name: two, fake: {say: hi}}
  - {name: clean, always: true, fake: {say: hi}}
`
	if err := yaml.Unmarshal([]byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	p, err := New(&cfg, probes.Options{CheckID: "s/f/j"}, fakeKit{builds: map[string]int{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	r := p.Probe(ctx)
	if r.Success || !r.TimedOut || r.ErrorString() != "journey s/f/j: step 1 one: context deadline exceeded" {
		t.Fatalf("run = success %v timed out %v err %q", r.Success, r.TimedOut, r.ErrorString())
	}
	if s := r.Journey.Steps; !s[1].Skipped || !s[2].Success {
		t.Errorf("steps = %+v, want two skipped and clean run", s)
	}
}
