package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/notify"
	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/internal/web"
	"github.com/vigil-monitoring/vigil/sla"
)

// TestCommunicationsWired: the real agent with a signed webhook and a
// write token, two features of one datacenter failing together: the
// webhook hears the incident open, an operator's update (which
// /api/v1/incidents then carries), the incident resolve, and a declared
// maintenance window start; every delivery is signed.
func TestCommunicationsWired(t *testing.T) {
	const secret, token = "webhook-secret-0123456789", "write-token-0123456789"
	target := newRunTarget(t, func(int) bool { return false })
	var mu sync.Mutex
	var events []notify.Event
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !notify.VerifySignature(secret, body, r.Header.Get("X-Vigil-Signature")) {
			t.Errorf("a delivery with a bad signature: %s", body)
		}
		var e notify.Event
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("delivery %s: %v", body, err)
		}
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}))
	defer hook.Close()
	seen := func(typ notify.EventType) *notify.Event {
		mu.Lock()
		defer mu.Unlock()
		for i := range events {
			if events[i].Type == typ {
				return &events[i]
			}
		}
		return nil
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "secret"), secret)
	writeFile(t, filepath.Join(dir, "token"), token)
	cfgFile := filepath.Join(dir, "vigil.yml")
	writeFile(t, cfgFile, fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 100ms, timeout: 80ms, failure_threshold: 1, recovery_threshold: 1}
web: {write_token_file: %[1]s/token}
notify:
  webhooks: [{url: "%[2]s/", secret_file: %[1]s/secret}]
  delivery: {min_backoff: 100ms}
services:
  - name: talk
    features:
      - {name: send, labels: {datacenter: pangyo}, checks: [{name: api, http: {url: "%[3]s/send"}}]}
      - {name: read, labels: {datacenter: pangyo}, checks: [{name: api, http: {url: "%[3]s/read"}}]}
`, dir, hook.URL, target.URL))
	_, base := startWithWeb(t, cfgFile, filepath.Join(dir, "data"))

	target.mu.Lock()
	target.fail = func(int) bool { return true }
	target.mu.Unlock()
	testenv.WaitFor(t, 15*time.Second, "incident.opened at the webhook", func() bool { return seen(notify.IncidentOpened) != nil })
	opened := seen(notify.IncidentOpened).Incident
	if len(opened.Affected) != 2 || !strings.Contains(opened.Title, "pangyo") {
		t.Errorf("opened incident %+v, want both features of pangyo", opened)
	}
	update := `{"status":"identified","message":{"en":"A power feed failed","ko":"전원 공급 장애"},"author":"ops"}`
	if code, body := call(t, "POST", base+"/api/v1/incidents/"+opened.ID+"/updates", "", update); code != 401 {
		t.Errorf("update without a token: %d %s, want 401", code, body)
	}
	if code, body := call(t, "POST", base+"/api/v1/incidents/"+opened.ID+"/updates", token, update); code != 201 {
		t.Fatalf("update: %d %s", code, body)
	}
	_, list := get(t, base+"/api/v1/incidents")
	if !strings.Contains(list, `"status": "identified"`) || !strings.Contains(list, "A power feed failed") {
		t.Errorf("/api/v1/incidents lacks the update:\n%s", list)
	}
	testenv.WaitFor(t, 15*time.Second, "incident.updated at the webhook", func() bool { return seen(notify.IncidentUpdated) != nil })

	target.mu.Lock()
	target.fail = func(int) bool { return false }
	target.mu.Unlock()
	testenv.WaitFor(t, 15*time.Second, "incident.resolved at the webhook", func() bool { return seen(notify.IncidentResolved) != nil })
	if r := seen(notify.IncidentResolved).Incident; r.ID != opened.ID || r.End == nil {
		t.Errorf("resolved %+v, want incident %s with an end", r, opened.ID)
	}

	if code, body := call(t, "POST", base+"/api/v1/maintenance", token,
		`{"selector":{"datacenter":"pangyo"},"duration":"1h","author":"ops","reason":"UPS swap","mode":"mute"}`); code != 201 {
		t.Fatalf("maintenance: %d %s", code, body)
	}
	testenv.WaitFor(t, 15*time.Second, "maintenance.started at the webhook", func() bool { return seen(notify.MaintenanceStarted) != nil })
	if m := seen(notify.MaintenanceStarted).Maintenance; m.Mode != "mute" || m.Reason != "UPS swap" || len(m.Affected) != 2 {
		t.Errorf("maintenance event %+v", m)
	}
	manual := `{"title":{"en":"Login slow for some users","ko":"일부 사용자 로그인 지연"},"services":["talk"],"status":"investigating","message":"Looking into it","author":"ops"}`
	if code, body := call(t, "POST", base+"/api/v1/incidents", token, manual); code != 201 {
		t.Fatalf("manual incident: %d %s", code, body)
	}
	if _, list := get(t, base+"/api/v1/incidents"); !strings.Contains(list, "Login slow for some users") {
		t.Errorf("/api/v1/incidents lacks the manual incident:\n%s", list)
	}
	for lang, want := range map[string]string{"en": "Login slow for some users", "ko": "일부 사용자 로그인 지연"} {
		if _, page := get(t, base+"/?lang="+lang); !strings.Contains(page, want) || !strings.Contains(page, "Looking into it") {
			t.Errorf("status page (%s) lacks the manual incident %q and its update", lang, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", notify.FileName)); err != nil {
		t.Errorf("comms store: %v", err)
	}
}

// TestUpdatesFollowAGrowingIncident: two features of datacenter pangyo fail
// (incident "...-datacenter-pangyo"); an operator posts an update; two more
// features of the region fail, and the incident is now the region's four,
// under another id ("...-region-kr-central-1"). The update shows with it on
// /api/v1/incidents and the page, the old id still takes updates, and the
// webhook heard one incident.opened, not two.
func TestUpdatesFollowAGrowingIncident(t *testing.T) {
	const token = "write-token-0123456789"
	var mu sync.Mutex
	failing := map[string]bool{}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		bad := failing[r.URL.Path]
		mu.Unlock()
		if bad {
			http.Error(w, "scripted failure", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	defer target.Close()
	fail := func(paths ...string) {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range paths {
			failing[p] = true
		}
	}
	var opened atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Vigil-Event") == string(notify.IncidentOpened) {
			opened.Add(1)
		}
	}))
	defer hook.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "token"), token)
	writeFile(t, filepath.Join(dir, "secret"), "webhook-secret-0123456789")
	cfgFile := filepath.Join(dir, "vigil.yml")
	writeFile(t, cfgFile, fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 100ms, timeout: 80ms, failure_threshold: 1, recovery_threshold: 1}
web: {write_token_file: %[1]s/token}
notify:
  webhooks: [{url: "%[2]s/", secret_file: %[1]s/secret}]
  delivery: {min_backoff: 100ms}
services:
  - name: talk
    features:
      - {name: send, labels: {datacenter: pangyo, tier: "1"}, checks: [{name: api, http: {url: "%[3]s/send"}}]}
      - {name: drawer, labels: {datacenter: pangyo}, checks: [{name: api, http: {url: "%[3]s/drawer"}}]}
      - {name: channel, labels: {tier: "1"}, checks: [{name: api, http: {url: "%[3]s/channel"}}]}
      - {name: read, labels: {tier: "1"}, checks: [{name: api, http: {url: "%[3]s/read"}}]}
`, dir, hook.URL, target.URL))
	a, base := startWithWeb(t, cfgFile, filepath.Join(dir, "data"))
	type listed struct {
		Incidents []struct {
			ID       string
			Features []struct{ Feature string }
			Updates  []struct{ Status string }
		}
	}
	incidents := func() listed {
		var l listed
		_, body := get(t, base+"/api/v1/incidents")
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatalf("/api/v1/incidents: %v\n%s", err, body)
		}
		return l
	}

	fail("/send", "/drawer")
	var first string
	testenv.WaitFor(t, 15*time.Second, "the pangyo incident", func() bool {
		l := incidents()
		if len(l.Incidents) == 1 && strings.HasSuffix(l.Incidents[0].ID, "-datacenter-pangyo") {
			first = l.Incidents[0].ID
		}
		return first != ""
	})
	if code, body := call(t, "POST", base+"/api/v1/incidents/"+first+"/updates", token,
		`{"status":"investigating","message":"Messages fail in Pangyo"}`); code != 201 {
		t.Fatalf("update: %d %s", code, body)
	}
	testenv.WaitFor(t, 15*time.Second, "incident.opened at the webhook", func() bool { return opened.Load() == 1 })

	fail("/channel", "/read")
	var grown string
	var last listed
	defer func() {
		if grown == "" {
			t.Logf("incidents: %+v", last)
		}
	}()
	testenv.WaitFor(t, 15*time.Second, "the incident grown to the region", func() bool {
		l := incidents()
		last = l
		for _, inc := range l.Incidents {
			if inc.ID != first && len(inc.Features) == 4 {
				grown = inc.ID
				if len(inc.Updates) != 1 || inc.Updates[0].Status != "investigating" {
					t.Fatalf("the grown incident %s has updates %+v, want the one posted under %s", grown, inc.Updates, first)
				}
			}
		}
		return grown != ""
	})
	if code, body := call(t, "POST", base+"/api/v1/incidents/"+first+"/updates", token,
		`{"status":"identified","message":"A power feed failed"}`); code != 201 || !strings.Contains(body, grown) {
		t.Fatalf("update to the old id %s: %d %s, want 201 under %s", first, code, body, grown)
	}
	if _, page := get(t, base+"/"); !strings.Contains(page, "Messages fail in Pangyo") || !strings.Contains(page, "A power feed failed") {
		t.Errorf("the status page lacks the updates of incident %s", grown)
	}
	// The watcher has seen the grown incident a few times, and what it
	// queued has been delivered.
	seenBy := a.engine.Incidents(sla.IncidentQuery{})
	scrape := func(series string) float64 {
		var b strings.Builder
		_ = a.Exposition().Write(&b, false)
		v, _ := metricValue(t, b.String(), series)
		return v
	}
	const watchRuns = `vigil_agent_job_runs_total{job="notify-watch",region="kr-central-1"}`
	after := scrape(watchRuns)
	testenv.WaitFor(t, 15*time.Second, "three more notify-watch runs and an empty queue", func() bool {
		return scrape(watchRuns) >= after+3 && scrape(`vigil_notify_queue_pending{region="kr-central-1"}`) == 0
	})
	if n := opened.Load(); n != 1 {
		t.Errorf("%d incident.opened deliveries, want 1 (incidents %+v)", n, seenBy)
	}
}

// startWithWeb starts the agent on cfgFile (the notify watcher every 100 ms)
// and its web server with the communications endpoints on a free loopback
// port, both stopped when the test ends, and returns the agent and the
// server's base URL.
func startWithWeb(t *testing.T, cfgFile, storage string) (*Agent, string) {
	t.Helper()
	a, err := New(Options{ConfigFile: cfgFile, StoragePath: storage, NotifyWatchInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	opts, err := a.WebOptions(web.Options{ListenAddress: "127.0.0.1:0"}, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := web.New(a, opts)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return a, "http://" + srv.Addr()
}
