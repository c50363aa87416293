package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/maintenance"
	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/internal/web"
	"github.com/vigil-monitoring/vigil/sla"
)

// call sends a JSON request with a bearer token and returns the status and
// body.
func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func featureState(a *Agent, feature string) sla.FeatureStatus {
	for _, f := range a.Engine().Features() {
		if f.Feature == feature {
			return f
		}
	}
	return sla.FeatureStatus{}
}

// TestRuntimeMaintenance: windows declared over the API, against the real
// agent and loopback targets. Writes need the token; an exclude window over
// a label puts the features it selects in maintenance (an outage during it
// opens nothing) and on /metrics; a pause stops the probes of its feature
// (its time unmonitored) until it is ended; the book survives a restart;
// bad requests name their field.
func TestRuntimeMaintenance(t *testing.T) {
	send := newRunTarget(t, func(int) bool { return false })
	read := newRunTarget(t, func(int) bool { return false })
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	writeFile(t, cfgFile, fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 100ms, timeout: 80ms}
services:
  - name: talk
    features:
      - name: send
        labels: {datacenter: pangyo}
        checks: [{name: api, http: {url: "%s/"}}]
      - name: read
        labels: {datacenter: gasan}
        checks: [{name: api, http: {url: "%s/"}}]
`, send.URL, read.URL))
	a := startAgent(t, cfgFile)
	const token = "s3cret-token"
	authorize := func(r *http.Request) error {
		if r.Header.Get("Authorization") != "Bearer "+token {
			return errors.New("a bearer token is required")
		}
		return nil
	}
	srv := web.New(a, web.Options{ListenAddress: "127.0.0.1:0", AuthorizeWrite: authorize})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	base := "http://" + srv.Addr() + "/api/v1/maintenance"
	testenv.WaitFor(t, 10*time.Second, "both features up", func() bool {
		return featureState(a, "send").State == sla.StateUp && featureState(a, "read").State == sla.StateUp
	})

	exclude := `{"selector":{"datacenter":"pangyo"},"duration":"1h","author":"ops","reason":"UPS swap"}`
	if code, body := call(t, "POST", base, "", exclude); code != 401 || !strings.Contains(body, "token") {
		t.Errorf("POST without a token: %d %s, want 401", code, body)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"selector":{"datacenter":"pangyo"},"duration":"1h"}`, "author: required"},
		{`{"selector":{"datacenter":"busan"},"duration":"1h","author":"ops"}`, "selector: {datacenter=busan} selects no configured feature"},
		{`{"selector":{"service":"talk"},"duration":"1h","author":"ops","mode":"snooze"}`, `mode: "snooze" is not one of`},
		{`{"selector":{"service":"talk"},"author":"ops"}`, "end: set end or duration"},
		{`{"selector":{"service":"talk"},"duration":"1h","author":"ops","colour":"red"}`, `unknown field "colour"`},
		{`{"selector":{"service":"talk"},"duration":1,"author":"ops"}`, "duration: want a string"},
	} {
		code, body := call(t, "POST", base, token, tc.body)
		var e struct{ Error string }
		if err := json.Unmarshal([]byte(body), &e); code != 400 || err != nil || !strings.Contains(e.Error, tc.want) {
			t.Errorf("POST %s: %d %s, want 400 saying %q", tc.body, code, body, tc.want)
		}
	}

	code, body := call(t, "POST", base, token, exclude)
	var win maintenance.Window
	if err := json.Unmarshal([]byte(body), &win); code != 201 || err != nil {
		t.Fatalf("POST exclude: %d %s %v", code, body, err)
	}
	if win.Mode != maintenance.ModeExclude || strings.Join(win.Features, ",") != "talk/send" || win.Author != "ops" {
		t.Errorf("window %+v, want exclude of talk/send by ops", win)
	}
	testenv.WaitFor(t, 10*time.Second, "talk/send in maintenance", func() bool {
		return featureState(a, "send").State == sla.StateMaintenance
	})
	send.mu.Lock()
	send.fail = func(int) bool { return true } // fails during the window: no outage
	from := len(send.log)
	send.mu.Unlock()
	testenv.WaitFor(t, 10*time.Second, "10 failed runs of talk/send", func() bool { return send.count() > from+10 })
	if o := a.Engine().Outages(sla.OutageQuery{}); len(o) != 0 || featureState(a, "read").State != sla.StateUp {
		t.Errorf("outages %+v, read %s: want none during the exclude window, read up", o, featureState(a, "read").State)
	}
	_, metrics := get(t, "http://"+srv.Addr()+"/metrics")
	if !strings.Contains(metrics, `vigil_feature_maintenance{feature="send",mode="exclude",region="kr-central-1",service="talk"} 1`) ||
		strings.Contains(metrics, `vigil_feature_maintenance{feature="read"`) {
		t.Errorf("/metrics: want vigil_feature_maintenance for send only:\n%s", grepLines(metrics, "vigil_feature_maintenance"))
	}

	code, body = call(t, "POST", base, token, `{"selector":{"feature":"read"},"duration":"2h","mode":"pause","author":"ops"}`)
	var pause maintenance.Window
	if err := json.Unmarshal([]byte(body), &pause); code != 201 || err != nil {
		t.Fatalf("POST pause: %d %s %v", code, body, err)
	}
	testenv.WaitFor(t, 10*time.Second, "talk/read unknown, paused", func() bool {
		f := featureState(a, "read")
		return f.State == sla.StateUnknown && strings.Contains(f.Reason, "paused by maintenance "+pause.ID)
	})
	paused := read.count()
	testenv.WaitFor(t, 10*time.Second, "talk/send to run 5 more times", func() bool { return send.count() > from+20 })
	if n := read.count(); n > paused+1 { // one run may have been in flight
		t.Errorf("talk/read probed %d times while paused", n-paused)
	}
	if code, body := call(t, "DELETE", base+"/"+pause.ID, token, ""); code != 200 {
		t.Errorf("DELETE pause: %d %s", code, body)
	}
	if code, _ := call(t, "DELETE", base+"/"+pause.ID, token, ""); code != 404 {
		t.Errorf("DELETE of an ended window: %d, want 404", code)
	}
	testenv.WaitFor(t, 10*time.Second, "talk/read probed and up again", func() bool {
		return read.count() > paused+3 && featureState(a, "read").State == sla.StateUp
	})

	// The book survives a restart: the exclude window is still there and applied.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	book, err := maintenance.Open(filepath.Join(dir, "data", maintenanceFile))
	if err != nil {
		t.Fatal(err)
	}
	list := book.List(time.Now())
	if len(list) != 2 || list[0].ID != win.ID || list[1].ID != pause.ID || list[1].End.After(time.Now()) {
		t.Errorf("book after restart: %+v, want the exclude window and the ended pause", list)
	}
	a2, err := New(Options{ConfigFile: cfgFile, StoragePath: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Shutdown(context.Background())
	testenv.WaitFor(t, 10*time.Second, "talk/send in maintenance after the restart", func() bool {
		return featureState(a2, "send").State == sla.StateMaintenance
	})
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
