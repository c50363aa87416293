package agent

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/sla"
)

// scriptedTarget answers by phase of a script that starts when the test says:
// up, then 500s, then slow (over the latency objective), then up again.
type scriptedTarget struct {
	start             time.Time
	up1, errors, slow time.Duration
	slowDelay         time.Duration
}

func (s *scriptedTarget) phase(now time.Time) string {
	since := now.Sub(s.start)
	switch {
	case since < s.up1:
		return "up"
	case since < s.up1+s.errors:
		return "errors"
	case since < s.up1+s.errors+s.slow:
		return "slow"
	}
	return "up"
}

func (s *scriptedTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.phase(time.Now()) {
	case "errors":
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	case "slow": // the target's slowness, which the scenario is about
		select {
		case <-time.After(s.slowDelay):
		case <-r.Context().Done():
			return
		}
	}
	fmt.Fprintln(w, "ok")
}

// TestScenarioOutageWindowStatesAndAvailability drives the real agent against a
// loopback target following a script (the up 60 s, 500s for 45 s, slow for
// 30 s, up; compressed 40x) and checks the outage window, the state history and the
// availability the agent reports.
func TestScenarioOutageWindowStatesAndAvailability(t *testing.T) {
	const (
		interval = 100 * time.Millisecond
		// Slack for scheduling on a busy 2-core machine under -race.
		slack = 250 * time.Millisecond
	)
	target := &scriptedTarget{up1: 1500 * time.Millisecond, errors: 1125 * time.Millisecond, slow: 750 * time.Millisecond, slowDelay: 60 * time.Millisecond}
	srv := httptest.NewServer(target)
	defer srv.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	writeFile(t, cfgFile, fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 100ms, timeout: 90ms, failure_threshold: 2, recovery_threshold: 3}
services:
  - name: talk
    features:
      - name: message-send-receive
        slo: {objective: 99.9, window: 1h, latency: 40ms}
        checks:
          - name: api
            http: {url: "%s/"}
`, srv.URL))
	target.start = time.Now()
	a, err := New(Options{ConfigFile: cfgFile, StoragePath: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	configured := time.Now()
	// The script runs in real time; it ends with the feature back up once the
	// slow answers stop. Wait for that transition.
	slowEnd := target.start.Add(target.up1 + target.errors + target.slow)
	var transitions []sla.Transition
	testenv.WaitFor(t, time.Until(slowEnd)+5*time.Second, "the feature to be up again after the slow answers", func() bool {
		transitions, err = a.Engine().Transitions("talk", "message-send-receive", time.Time{}, time.Time{})
		if err != nil {
			return true
		}
		last := len(transitions) - 1
		return last >= 0 && transitions[last].To == sla.StateUp && !transitions[last].At.Before(slowEnd)
	})
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	status := a.Engine().Features()[0]
	outages := a.Engine().Outages(sla.OutageQuery{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	// One outage: it starts at the first failing run (the first run to meet
	// the errors) and ends at the first passing one after they stop.
	if len(outages) != 1 {
		t.Fatalf("%d outages, want 1: %+v", len(outages), outages)
	}
	o := outages[0]
	errorsStart := target.start.Add(target.up1)
	errorsEnd := errorsStart.Add(target.errors)
	// The start is the start of the first failing run: one that started just
	// before the switch may reach the target after it and fail (seen: 64 µs
	// before, under load).
	if d := o.Start.Sub(errorsStart); d < -slack || d > interval+slack {
		t.Errorf("outage starts %s after the errors began, want within [-%s, %s]", d, slack, interval+slack)
	}
	if o.End == nil {
		t.Fatal("outage still open after the target recovered")
	}
	// The end is the start of the first passing run: one that started just
	// before the target switched back may find it up (its request arrives
	// after), so the end may fall a little before the switch.
	if d := o.End.Sub(errorsEnd); d < -slack || d > interval+slack {
		t.Errorf("outage ends %s after the errors stopped, want within [-%s, %s]", d, slack, interval+slack)
	}
	if o.Cause.Check != "api" || o.Cause.Error == "" {
		t.Errorf("outage cause = %+v, want check api with its error", o.Cause)
	}
	if want := target.errors.Seconds(); o.DowntimeSeconds < want-slack.Seconds() || o.DowntimeSeconds > want+slack.Seconds() {
		t.Errorf("outage downtime %.3fs, want %.3fs ± %s", o.DowntimeSeconds, want, slack)
	}

	// State history: up, down (after the threshold), recovering, then degraded while
	// slow (the slowest passing run is over the 40ms latency objective), then up.
	var states []sla.State
	for _, tr := range transitions {
		states = append(states, tr.To)
	}
	want := []sla.State{sla.StateUp, sla.StateDown, sla.StateRecovering, sla.StateDegraded, sla.StateUp}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		t.Fatalf("state history %v, want %v (transitions %+v)", states, want, transitions)
	}
	if status.State != sla.StateUp {
		t.Errorf("final state %s, want up", status.State)
	}

	// Availability over the SLO window: 1 - downtime / eligible, where the time
	// before the feature was configured is unmonitored.
	eligible := end.Sub(configured).Seconds()
	wantAvail := 1 - status.DowntimeSeconds/eligible
	if diff := status.Availability.SLO - wantAvail; diff < -0.01 || diff > 0.01 {
		t.Errorf("availability %.4f, want %.4f (downtime %.3fs of %.3fs eligible)", status.Availability.SLO, wantAvail, status.DowntimeSeconds, eligible)
	}
	// The first slow answers are still the recovery's three passing runs
	// (down, then recovering), so degraded time is the slow spell less up to
	// three intervals, less scheduling slack.
	if least := (target.slow - 3*interval - slack).Seconds(); status.DegradedSeconds < least || status.DegradedSeconds > target.slow.Seconds()+slack.Seconds() {
		t.Errorf("degraded %.3fs, want about the %s of slow answers", status.DegradedSeconds, target.slow)
	}
}
