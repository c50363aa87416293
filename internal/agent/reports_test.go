package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testenv"
)

// TestScheduledReportCatchUp: an agent started after its report's last
// firing (the daily one at 00:00 UTC today) delivers it on start, marked
// late, to a webhook; started again, it does not deliver it twice.
func TestScheduledReportCatchUp(t *testing.T) {
	target := newRunTarget(t, func(int) bool { return false })
	type delivery struct{ report, period, late, body string }
	var mu sync.Mutex
	var got []delivery
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, delivery{r.Header.Get("X-Vigil-Report"), r.Header.Get("X-Vigil-Period"), r.Header.Get("X-Vigil-Late"), string(b)})
		mu.Unlock()
	}))
	defer hook.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	writeFile(t, cfgFile, fmt.Sprintf(`agent: {region: kr-central-1}
defaults: {interval: 100ms, timeout: 80ms}
services:
  - name: talk
    features:
      - name: send
        checks: [{name: api, http: {url: "%s/"}}]
reports:
  - {name: daily, cron: "0 0 * * *", range: previous-day, to: ["%s/sla"]}
`, target.URL, hook.URL))
	deliveries := func() []delivery {
		mu.Lock()
		defer mu.Unlock()
		return append([]delivery(nil), got...)
	}
	a := startAgent(t, cfgFile)
	testenv.WaitFor(t, 10*time.Second, "the missed daily report", func() bool { return len(deliveries()) > 0 })
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
	d := deliveries()[0]
	if d.report != "daily" || d.period != yesterday || d.late != "true" || !strings.Contains(d.body, "talk") {
		t.Errorf("delivery %+v, want daily for %s, late, with the report", d, yesterday)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	a2, err := New(Options{ConfigFile: cfgFile, StoragePath: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	select { // the catch-up runs in the background
	case <-a2.catchUpDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the second agent's catch-up did not end")
	}
	_ = a2.Shutdown(context.Background())
	if n := len(deliveries()); n != 1 {
		t.Errorf("%d deliveries after a restart, want still 1: %+v", n, deliveries())
	}
}
