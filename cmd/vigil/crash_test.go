package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testenv"
)

type outageJSON struct {
	ID    uint64     `json:"id"`
	Start time.Time  `json:"start"`
	End   *time.Time `json:"end"`
	Cause struct {
		Check string `json:"check"`
		Error string `json:"error"`
	} `json:"cause"`
}

func fetchOutages(addr string) ([]outageJSON, error) {
	resp, err := http.Get("http://" + addr + "/api/v1/outages")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Outages []outageJSON `json:"outages"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	return body.Outages, err
}

func metric(body, name string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\{[^}]*\} (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestKill9LosesNothingClosed runs the agent as a child process, kills it with
// SIGKILL at random moments while a target fails and recovers on a script,
// restarts it on the same store, and checks that every outage seen closed before
// the kill is still there, unchanged, and that the gap counts as unmonitored.
func TestKill9LosesNothingClosed(t *testing.T) {
	var failing atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	defer target.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 100ms, timeout: 80ms, failure_threshold: 1, recovery_threshold: 1}
services:
  - name: talk
    features:
      - name: message-send-receive
        checks:
          - name: api
            http: {url: "%s/"}
`, target.URL)), 0o600)
	storage := filepath.Join(dir, "data")
	seen := map[uint64]outageJSON{} // closed outages seen before a kill
	rng := rand.New(rand.NewPCG(1, 2))
	var lastUnmonitored float64
	for round := range 4 {
		addr := testenv.FreeAddr(t)
		cmd := exec.Command(vigilBin, "--config.file="+cfgFile, "--web.listen-address="+addr, "--storage.path="+storage, "--log.level=warn")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Every closed outage from before the earlier kills is back, unchanged.
		deadline := time.Now().Add(10 * time.Second)
		var outages []outageJSON
		var err error
		for time.Now().Before(deadline) {
			if outages, err = fetchOutages(addr); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: agent API not up: %v", round, err)
		}
		byID := map[uint64]outageJSON{}
		for _, o := range outages {
			byID[o.ID] = o
		}
		for id, was := range seen {
			now, ok := byID[id]
			if !ok || !now.Start.Equal(was.Start) || now.End == nil || !now.End.Equal(*was.End) {
				t.Errorf("round %d: closed outage %d was %v-%v, after kill -9 it is %+v (present %v)", round, id, was.Start, was.End, now, ok)
			}
		}
		if round > 0 {
			// The gap since the last kill is unmonitored: the counter grew by at least
			// the pause below (minus one heartbeat of credit).
			var body string
			for time.Now().Before(deadline) {
				body = scrape(addr)
				if metric(body, "vigil_sla_unmonitored_seconds_total") > lastUnmonitored {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			u := metric(body, "vigil_sla_unmonitored_seconds_total")
			if u-lastUnmonitored < 0.3 {
				t.Errorf("round %d: unmonitored seconds %.3f after a gap of at least 0.5s (before: %.3f)", round, u, lastUnmonitored)
			}
			lastUnmonitored = u
		}
		// Fail and recover the target once, so an outage opens and closes.
		failing.Store(true)
		time.Sleep(300 * time.Millisecond)
		failing.Store(false)
		deadline = time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			outages, _ = fetchOutages(addr)
			if len(outages) > 0 && outages[0].End != nil && len(outages) > len(seen) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, o := range outages {
			if o.End != nil {
				seen[o.ID] = o
			}
		}
		if len(seen) < round+1 {
			t.Fatalf("round %d: %d closed outages seen, want %d", round, len(seen), round+1)
		}
		if round == 0 {
			lastUnmonitored = metric(scrape(addr), "vigil_sla_unmonitored_seconds_total")
		}
		// Kill at a random moment of the next runs, maybe with a new outage in flight.
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		if rng.IntN(2) == 0 {
			failing.Store(true)
			time.Sleep(time.Duration(rng.IntN(200)) * time.Millisecond)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		failing.Store(false)
		time.Sleep(500 * time.Millisecond) // the agent is down: unmonitored time
	}
}
