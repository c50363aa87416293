package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPushRunsAsADuty: with a push URL the agent pushes its exposition as
// the scheduled duty "push"; each push is counted, and a target that
// refuses is counted as a failure while probing goes on.
func TestPushRunsAsADuty(t *testing.T) {
	tg := startTargets(t)
	bodies := make(chan string, 16)
	refuse := make(chan struct{})
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-refuse:
			http.Error(w, "full", http.StatusServiceUnavailable)
			return
		default:
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(zr)
		// Read the request to its end, as a real sink does: answering while the
		// client still writes may reach it as a reset instead of the answer.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case bodies <- string(b):
		default:
		}
	}))
	defer sink.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	writeFile(t, cfgFile, tg.config(""))
	a, err := New(Options{ConfigFile: cfgFile, StoragePath: filepath.Join(dir, "data"),
		PushURL: sink.URL + "/api/v1/import/prometheus", PushInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Shutdown(context.Background())
	if got := strings.Join(a.sched.Duties(), " "); got != "notify-watch push sla-heartbeat" {
		t.Errorf("duties %v, want notify-watch, push and sla-heartbeat", got)
	}
	var body string
	for range 2 {
		select {
		case body = <-bodies:
		case <-time.After(10 * time.Second):
			t.Fatal("no push arrived within 10 s at a 100 ms interval")
		}
	}
	if !strings.Contains(body, "\nvigil_check_up{") || !strings.Contains(body, `check="api"`) {
		t.Errorf("pushed exposition lacks the check series:\n%.500s", body)
	}
	close(refuse)
	scrape := func() string {
		var b bytes.Buffer
		if err := a.Exposition().Write(&b, false); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	eventually(t, 10*time.Second, "a refused push counted", func() bool {
		v, ok := metricValue(t, scrape(), `vigil_push_total{datacenter="pangyo",region="kr-central-1",result="failure"}`)
		return ok && v >= 1
	})
	out := scrape()
	if v, _ := metricValue(t, out, `vigil_push_total{datacenter="pangyo",region="kr-central-1",result="success"}`); v < 2 {
		t.Errorf("vigil_push_total{result=success} = %g, want at least 2", v)
	}
	// A run is counted once its push has returned: the run whose failure
	// was just seen may not be yet.
	eventually(t, 10*time.Second, "three push runs counted", func() bool {
		v, _ := metricValue(t, scrape(), `vigil_agent_job_runs_total{datacenter="pangyo",job="push",region="kr-central-1"}`)
		return v >= 3
	})
}

func TestBadPushURLRefusesToStart(t *testing.T) {
	tg := startTargets(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	writeFile(t, cfgFile, tg.config(""))
	_, err := New(Options{ConfigFile: cfgFile, StoragePath: filepath.Join(dir, "data"), PushURL: "vm:8428"})
	if err == nil || !strings.Contains(err.Error(), `push URL "vm:8428"`) {
		t.Fatalf("New with a bad push URL: %v", err)
	}
}
