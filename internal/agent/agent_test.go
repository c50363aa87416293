package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/internal/web"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.etcd.io/bbolt.(*DB).freepages"))
}

// targets are real loopback servers: an HTTP API and an authoritative DNS server.
type targets struct {
	http    *httptest.Server
	hang    *httptest.Server
	dns     *dns.Server
	dnsAddr string
	status  atomic.Int32
	release chan struct{}
}

func startTargets(t *testing.T) *targets {
	t.Helper()
	tg := &targets{release: make(chan struct{})}
	tg.status.Store(200)
	tg.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(tg.status.Load()))
		fmt.Fprintln(w, `{"status":"ok"}`)
	}))
	tg.hang = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // accepts and never answers, until the test ends
		case <-tg.release:
		case <-r.Context().Done():
		}
	}))
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg.dnsAddr = pc.LocalAddr().String()
	started := make(chan struct{})
	tg.dns = &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) }, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		rr, _ := dns.NewRR(req.Question[0].Name + " 60 IN A 127.0.0.1")
		m.Answer = append(m.Answer, rr)
		_ = w.WriteMsg(m)
	})}
	go func() { _ = tg.dns.ActivateAndServe() }()
	<-started
	t.Cleanup(func() {
		close(tg.release)
		tg.http.Close()
		tg.hang.Close()
		_ = tg.dns.Shutdown()
	})
	return tg
}

func (tg *targets) config(extra string) string {
	return fmt.Sprintf(`agent:
  region: kr-central-1
  labels: {datacenter: pangyo}
defaults: {interval: 200ms, timeout: 100ms, failure_threshold: 2, recovery_threshold: 2}
services:
  - name: talk
    title: KakaoTalk
    features:
      - name: message-send-receive
        title: "Messages: send / receive"
        checks:
          - name: api
            http: {url: "%s/health", valid_status_codes: [200]}
          - name: dns
            dns: {server: "%s", query_name: talk.kakao.demo, query_type: A}
%s`, tg.http.URL, tg.dnsAddr, extra)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// eventually waits until cond holds, failing the test after limit (see
// testenv.WaitFor).
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, limit, what, cond)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func metricValue(t *testing.T, body, series string) (float64, bool) {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, series+" ") {
			var v float64
			fmt.Sscanf(strings.TrimPrefix(line, series+" "), "%g", &v)
			return v, true
		}
	}
	return 0, false
}

func TestAgentProbesServesAndReloads(t *testing.T) {
	tg := startTargets(t)
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "vigil.yml")
	writeFile(t, cfgFile, tg.config(""))
	a, err := New(Options{ConfigFile: cfgFile, StoragePath: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	srv := web.New(a, web.Options{ListenAddress: "127.0.0.1:0", Region: "kr-central-1"})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addr()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := a.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()

	labels := `check="%s",datacenter="pangyo",feature="message-send-receive",kind="%s",region="kr-central-1",service="talk"`
	upAPI := `vigil_check_up{` + fmt.Sprintf(labels, "api", "http") + `}`
	upDNS := `vigil_check_up{` + fmt.Sprintf(labels, "dns", "dns") + `}`
	eventually(t, 5*time.Second, "both checks up", func() bool {
		_, body := get(t, base+"/metrics")
		api, ok1 := metricValue(t, body, upAPI)
		d, ok2 := metricValue(t, body, upDNS)
		return ok1 && ok2 && api == 1 && d == 1
	})
	_, body := get(t, base+"/metrics")
	for _, series := range []string{
		`vigil_http_status_code{` + fmt.Sprintf(labels, "api", "http") + `} 200`,
		`vigil_dns_answer_rrs{` + fmt.Sprintf(labels, "dns", "dns") + `} 1`,
		`vigil_checks_configured{datacenter="pangyo",region="kr-central-1"} 2`,
		`vigil_config_last_reload_successful{datacenter="pangyo",region="kr-central-1"} 1`,
		`vigil_feature_up{datacenter="pangyo",feature="message-send-receive",region="kr-central-1",service="talk"} 1`,
	} {
		if !strings.Contains(body, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}

	// The features API lists every check's last result.
	code, js := get(t, base+"/api/v1/features")
	var features struct {
		Features []struct {
			Service, Feature, State string
			Checks                  []struct {
				Name string
				Kind string
				Up   bool
			}
		}
	}
	if err := json.Unmarshal([]byte(js), &features); err != nil || code != 200 {
		t.Fatalf("/api/v1/features: %d %v\n%s", code, err, js)
	}
	if len(features.Features) != 1 || len(features.Features[0].Checks) != 2 || features.Features[0].State != "up" {
		t.Fatalf("/api/v1/features = %+v, want one feature, up, with two checks", features)
	}

	// A bad config is refused; the old one keeps running.
	runsBefore := testutil.ToFloat64(a.metrics.ChecksConfigured)
	writeFile(t, cfgFile, tg.config("      - name: Bad Name\n        checks: []\n"))
	resp, err := http.Post(base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(msg), "vigil.yml:16: services[0].features[1].name") {
		t.Fatalf("bad reload: %d %s, want 500 naming file, line and key", resp.StatusCode, msg)
	}
	if v := testutil.ToFloat64(a.metrics.ReloadSuccess); v != 0 {
		t.Errorf("vigil_config_last_reload_successful = %v after a bad reload, want 0", v)
	}
	if v := testutil.ToFloat64(a.metrics.ChecksConfigured); v != runsBefore {
		t.Errorf("checks configured changed to %v after a refused reload", v)
	}

	// A good reload adds a feature whose check hangs; the others keep running on time.
	writeFile(t, cfgFile, tg.config(fmt.Sprintf(`      - name: talk-drawer
        checks:
          - name: api
            http: {url: "%s/drawer"}
`, tg.hang.URL)))
	if err := a.Reload(); err != nil {
		t.Fatalf("good reload refused: %v", err)
	}
	if v := testutil.ToFloat64(a.metrics.ReloadSuccess); v != 1 {
		t.Errorf("vigil_config_last_reload_successful = %v after a good reload, want 1", v)
	}
	apiRuns := func() float64 {
		_, body := get(t, base+"/metrics")
		v, _ := metricValue(t, body, `vigil_check_runs_total{check="api",datacenter="pangyo",feature="message-send-receive",kind="http",region="kr-central-1",result="success",service="talk"}`)
		return v
	}
	hangTimeouts := func() float64 {
		_, body := get(t, base+"/metrics")
		v, _ := metricValue(t, body, `vigil_check_runs_total{check="api",datacenter="pangyo",feature="talk-drawer",kind="http",region="kr-central-1",result="timeout",service="talk"}`)
		return v
	}
	before := apiRuns()
	eventually(t, 5*time.Second, "three timeouts of the hanging check", func() bool { return hangTimeouts() >= 3 })
	// Three timeouts take at least 3 intervals (600 ms): the healthy check ran about
	// three times meanwhile, unhindered.
	if got := apiRuns() - before; got < 2 {
		t.Errorf("healthy check ran %v times while the hanging one timed out 3 times, want >= 2", got)
	}
}
