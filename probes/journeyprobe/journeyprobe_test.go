package journeyprobe_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/export"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/kinds"
)

const (
	checkID     = "talk/send/flow"
	passwordEnv = "VIGIL_JOURNEY_TEST_PASSWORD"
)

// flow is the journey of examples/journey.yml, pointed at the test app:
// log in, post a message, see it arrive over JetStream, read it back, and
// delete it whatever happened.
const flow = `
journey:
  vars: {user: alice}
  steps:
    - name: login
      timeout: 2s
      http:
        url: {{app}}/login
        method: POST
        headers: {Content-Type: application/json}
        body: '{"user":"${user}","password":"${` + passwordEnv + `}"}'
        valid_status_codes: [200]
      extract:
        - {var: token, json: "$.token", secret: true}
        - {var: sid, cookie: session}
    - name: post-message
      timeout: 2s
      http:
        url: {{app}}/messages
        method: POST
        headers: {Authorization: "Bearer ${token}", Content-Type: application/json}
        body: '{"text":"${run.token}"}'
        valid_status_codes: [201]
      extract:
        - {var: msg_id, json: "$.id"}
        - {var: location, header: Location}
    - name: see-it-arrive
      timeout: 1s
      messaging:
        protocol: jetstream
        url: "{{nats}}"
        subject: app.messages
        stream: APP_MESSAGES
        await: {contains: '"text":"${run.token}"'}
      extract:
        - {var: seen_id, json: "$.id"}
        - {var: seen_text, regexp: '"text":"([0-9a-f]+)"'}
    - name: get-it-back
      timeout: 2s
      http:
        url: "{{app}}${location}"
        headers: {Authorization: "Bearer ${token}", X-Session: "${sid}"}
        fail_if_body_not_matches_regexp: ['"id":${seen_id},', '"text":"${seen_text}"']
    - name: delete
      always: true
      timeout: 2s
      http:
        url: "{{app}}/messages?text=${run.token}"
        method: DELETE
        valid_status_codes: [204]
`

// logBuffer is a slog handler's output, safe for concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// build builds the journey of doc ({{app}} and {{nats}} replaced by a's addresses)
// through the table of kinds, as the agent does, logging at debug level into
// logs.
func build(t *testing.T, a *app, doc string, logs *logBuffer) probes.Prober {
	t.Helper()
	doc = strings.ReplaceAll(doc, "{{app}}", a.http.URL)
	doc = strings.ReplaceAll(doc, "{{nats}}", a.natsURL())
	var blocks kinds.Blocks
	if err := yaml.Unmarshal([]byte(doc), &blocks); err != nil {
		t.Fatal(err)
	}
	if set := blocks.Set(); len(set) != 1 || set[0].Name != "journey" {
		t.Fatalf("blocks set %v, want journey", set)
	}
	if err := blocks.Set()[0].Validate(&blocks); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := blocks.Build(probes.Options{CheckID: checkID, AgentID: "kr-central-1", Logger: log})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(func() { p.(probes.Closer).Close() })
	return p
}

func TestJourney(t *testing.T) {
	const password = "correct-horse-battery"
	tests := []struct {
		name     string
		password string
		setup    func(*app)
		// failed is the 1-based step that fails, 0 for none; wantErr is the
		// rest of the error after "journey talk/send/flow: step N name: ".
		failed  int
		wantErr string
	}{
		{name: "passes", password: password},
		{name: "wrong password", password: "wrong-password", failed: 1,
			wantErr: "POST {{app}}/login: status 401 not in valid_status_codes [200]"},
		{name: "expired token", password: password, setup: func(a *app) { a.tokenTTL = -time.Second }, failed: 2,
			wantErr: "POST {{app}}/messages: status 401 not in valid_status_codes [201]"},
		{name: "message never delivered", password: password, setup: func(a *app) { a.undelivered = true }, failed: 3,
			wantErr: `no message containing "\"text\":\"`},
	}
	steps := []string{"login", "post-message", "see-it-arrive", "get-it-back", "delete"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, password)
			if tt.setup != nil {
				tt.setup(a)
			}
			t.Setenv(passwordEnv, tt.password)
			logs := &logBuffer{}
			p := build(t, a, flow, logs)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			r := p.Probe(ctx)

			if r.Journey == nil || len(r.Journey.Steps) != len(steps) {
				t.Fatalf("Journey = %+v, want %d steps", r.Journey, len(steps))
			}
			posted, deletes, issued, left := a.seen()
			if tt.failed == 0 {
				if !r.Success || r.Err != nil || r.Journey.FailedStep != "" {
					t.Fatalf("run failed: %v (steps %+v)", r.Err, r.Journey.Steps)
				}
				if len(posted) != 1 || left != 0 {
					t.Errorf("posted %q, %d messages left; want 1 posted and none left", posted, left)
				}
			} else {
				name := steps[tt.failed-1]
				want := fmt.Sprintf("journey %s: step %d %s: %s", checkID, tt.failed, name, strings.ReplaceAll(tt.wantErr, "{{app}}", a.http.URL))
				if r.Success || r.Err == nil || !strings.HasPrefix(r.Err.Error(), want) {
					t.Fatalf("error = %v\nwant prefix %q", r.Err, want)
				}
				if r.Journey.FailedStep != name {
					t.Errorf("FailedStep = %q, want %q", r.Journey.FailedStep, name)
				}
				if r.TimedOut {
					t.Error("TimedOut set for a failed step within the journey's time")
				}
			}
			for i, si := range r.Journey.Steps {
				wantOK := tt.failed == 0 || i+1 < tt.failed || steps[i] == "delete"
				wantSkipped := tt.failed != 0 && i+1 > tt.failed && steps[i] != "delete"
				if si.Name != steps[i] || si.Success != wantOK || si.Skipped != wantSkipped {
					t.Errorf("step %d = {%s success %v skipped %v err %q}, want {%s success %v skipped %v}",
						i+1, si.Name, si.Success, si.Skipped, si.Err, steps[i], wantOK, wantSkipped)
				}
				if r.Phases[i].Name != steps[i] || r.Phases[i].Duration != si.Duration {
					t.Errorf("phase %d = %+v, want %s of %v", i, r.Phases[i], steps[i], si.Duration)
				}
				if si.Success && si.Duration <= 0 {
					t.Errorf("step %s: duration %v", si.Name, si.Duration)
				}
			}
			if kind := r.Journey.Steps[2].Kind; kind != "messaging" {
				t.Errorf("step 3 kind = %q, want messaging", kind)
			}
			// The clean-up ran, whatever failed: the app saw the delete of
			// this run's message.
			if len(deletes) != 1 || deletes[0] == "" {
				t.Fatalf("deletes = %q, want one", deletes)
			}
			if len(posted) == 1 && deletes[0] != posted[0] {
				t.Errorf("deleted %q, posted %q", deletes[0], posted[0])
			}
			// Secrets: the password (from the environment) and the token
			// (extracted, secret: true) appear nowhere the run reports.
			secrets := append([]string{tt.password}, issued...)
			reported := map[string]string{"error": r.ErrorString(), "steps": fmt.Sprintf("%+v", r.Journey), "logs": logs.String(), "metrics": metricsText(t, r)}
			for where, text := range reported {
				for _, s := range secrets {
					if strings.Contains(text, s) {
						t.Errorf("secret %q appears in the %s: %s", s, where, text)
					}
				}
			}
			if !strings.Contains(logs.String(), "step=delete") {
				t.Errorf("no debug log of the delete step:\n%s", logs)
			}
		})
	}
}

// metricsText is the /metrics text of a journey check that had result r.
func metricsText(t *testing.T, r *probes.Result) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := export.NewMetrics(reg, prometheus.Labels{"region": "kr-central-1"})
	m.Check("talk", "send", "flow", "journey").Observe(r)
	var buf bytes.Buffer
	if err := expo.New(reg, nil, m).Write(&buf, false); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	if !strings.Contains(text, `vigil_journey_step_up{check="flow",feature="send",kind="journey",region="kr-central-1",service="talk",step="login"}`) {
		t.Errorf("no step series in the exposition:\n%s", text)
	}
	return text
}

// TestSecretEchoedByAStepIsRedacted runs a step whose target echoes the
// secret token (in the URL the http probe names in its error): the token
// reads <secret> in the error, the step and the logs.
func TestSecretEchoedByAStepIsRedacted(t *testing.T) {
	const password = "pw-for-echo"
	a := newApp(t, password)
	t.Setenv(passwordEnv, password)
	logs := &logBuffer{}
	p := build(t, a, `
journey:
  steps:
    - name: login
      http:
        url: {{app}}/login
        method: POST
        body: '{"user":"bob","password":"${`+passwordEnv+`}"}'
      extract: [{var: token, json: "$.token", secret: true}]
    - name: echo
      http: {url: "{{app}}/echo?t=${token}&p=${`+passwordEnv+`}"}
`, logs)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := p.Probe(ctx)
	_, _, issued, _ := a.seen()
	if len(issued) != 1 {
		t.Fatalf("issued %d tokens, want 1", len(issued))
	}
	want := fmt.Sprintf("journey %s: step 2 echo: GET %s/echo?t=<secret>&p=<secret>: status 500 not 2xx", checkID, a.http.URL)
	if r.Success || r.ErrorString() != want {
		t.Fatalf("error = %q\nwant    %q", r.ErrorString(), want)
	}
	if got := r.Journey.Steps[1].Err; !strings.Contains(got, "t=<secret>") {
		t.Errorf("step error %q does not redact the token", got)
	}
	for where, text := range map[string]string{"error": r.ErrorString(), "steps": fmt.Sprintf("%+v", r.Journey), "logs": logs.String()} {
		for _, s := range []string{issued[0], password} {
			if strings.Contains(text, s) {
				t.Errorf("secret %q appears in the %s: %s", s, where, text)
			}
		}
	}
}

// TestAlwaysRunsAfterTheJourneyTimedOut: a step hangs until the journey's
// deadline; the clean-up step still runs, on its own clock, and the run is a
// timeout.
func TestAlwaysRunsAfterTheJourneyTimedOut(t *testing.T) {
	a := newApp(t, "pw")
	p := build(t, a, `
journey:
  steps:
    - name: hang
      http: {url: "{{app}}/slow"}
    - name: never
      http: {url: "{{app}}/messages/1"}
    - name: delete
      always: true
      http: {url: "{{app}}/messages?text=${run.token}", method: DELETE, valid_status_codes: [204]}
`, &logBuffer{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	r := p.Probe(ctx)
	if r.Success || !r.TimedOut {
		t.Fatalf("Success %v TimedOut %v, want a timed-out run: %v", r.Success, r.TimedOut, r.Err)
	}
	if want := "journey " + checkID + ": step 1 hang: GET " + a.http.URL + "/slow: timed out"; !strings.HasPrefix(r.ErrorString(), want) {
		t.Errorf("error = %q, want prefix %q", r.ErrorString(), want)
	}
	steps := r.Journey.Steps
	if !steps[1].Skipped || !steps[2].Success || steps[2].Skipped {
		t.Errorf("steps = %+v, want never skipped and delete run", steps)
	}
	if _, deletes, _, _ := a.seen(); len(deletes) != 1 || len(deletes[0]) != 20 {
		t.Errorf("deletes = %q, want the run token's", deletes)
	}
}
