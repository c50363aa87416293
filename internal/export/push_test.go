package export

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-monitoring/vigil/internal/expo"
)

// requireBinary finds a Debian-packaged program; missing, the test skips loudly,
// or fails under CI=true.
func requireBinary(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (apt-get install %s); CI=true needs it", name, pkg)
		}
		t.Skipf("SKIPPING: %s not installed (apt-get install %s)", name, pkg)
	}
	return path
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startVictoriaMetrics runs Debian's single-node VictoriaMetrics on a free
// loopback port with its data under a temp dir, and returns its base URL.
func startVictoriaMetrics(t *testing.T) string {
	t.Helper()
	bin := requireBinary(t, "victoria-metrics", "victoria-metrics")
	port := freePort(t)
	cmd := exec.Command(bin, fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", port), "-storageDataPath="+t.TempDir(),
		"-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=ERROR")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("victoria-metrics did not become healthy within 30s")
	return ""
}

func TestPushArrivesInVictoriaMetricsWithLabels(t *testing.T) {
	base := startVictoriaMetrics(t)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, prometheus.Labels{"region": "kr-south-1", "datacenter": "busan"})
	cm := m.Check("talk", "message-send-receive", "api", "http")
	for _, r := range goldenCases["http"][:1] {
		cm.Observe(r)
	}
	preg := prometheus.NewRegistry()
	p, err := NewPusher(base+"/api/v1/import/prometheus", `instance="agent-1"`, expo.New(reg, nil, m), preg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Push(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(p.pushes.WithLabelValues("success")); got != 1 {
		t.Errorf("vigil_push_total{result=success} = %g after one push, want 1", got)
	}
	query := `vigil_check_up{region="kr-south-1",datacenter="busan",service="talk",feature="message-send-receive",check="api",kind="http",instance="agent-1"}`
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
		if err == nil {
			var body struct {
				Data struct {
					Result []struct {
						Metric map[string]string `json:"metric"`
						Value  [2]any            `json:"value"`
					} `json:"result"`
				} `json:"data"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if len(body.Data.Result) == 1 {
				if v := body.Data.Result[0].Value[1]; v != "1" {
					t.Fatalf("vigil_check_up = %v, want 1", v)
				}
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("series %s did not arrive in VictoriaMetrics within 30s", query)
}

// TestPushToADownTargetIsCountedLoggedAndBounded: every failed push is
// counted, logged with the URL (password redacted) and returned, and 100
// of them leave the heap where it was.
func TestPushToADownTargetIsCountedLoggedAndBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, nil)
	for i := range 200 {
		m.Check("svc", "feature", fmt.Sprintf("check-%d", i), "http").Observe(goldenCases["http"][0])
	}
	port := freePort(t) // nothing listens there
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	p, err := NewPusher(fmt.Sprintf("http://vigil:s3cret@127.0.0.1:%d/api/v1/import/prometheus", port), "", expo.New(reg, nil, m),
		prometheus.NewRegistry(), logger)
	if err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	for range 10 { // the steady state: pools and the transport warmed
		_ = p.Push(t.Context())
	}
	before := heap()
	const pushes = 100
	for i := range pushes {
		if err := p.Push(t.Context()); err == nil {
			t.Fatalf("push %d to a closed port succeeded", i)
		}
	}
	after := heap()
	if after > before+4<<20 {
		t.Errorf("heap grew from %d to %d bytes over %d failed pushes", before, after, pushes)
	}
	if got := testutil.ToFloat64(p.pushes.WithLabelValues("failure")); got != pushes+10 {
		t.Errorf("vigil_push_total{result=failure} = %g, want %d", got, pushes+10)
	}
	if got := testutil.ToFloat64(p.lastSuccess); got != 0 {
		t.Errorf("last success %g without a success", got)
	}
	out := logs.String()
	if n := strings.Count(out, "push failed"); n != pushes+10 {
		t.Errorf("%d log lines for %d failed pushes", n, pushes+10)
	}
	if strings.Contains(out, "s3cret") || !strings.Contains(out, "vigil:xxxxx@127.0.0.1") {
		t.Errorf("log does not name the URL with its password redacted:\n%.300s", out)
	}
}

func TestNewPusherRefusesABadURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8428", "ftp://host/x", "http:///path"} {
		if _, err := NewPusher(u, "", nil, prometheus.NewRegistry(), nil); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", u)) {
			t.Errorf("NewPusher(%q) = %v, want an error naming it", u, err)
		}
	}
}

// TestPushStreamsTheExposition: the body is the gzipped exposition, sent
// without a length (streamed, never held whole), the extra labels are
// extra_label arguments, and a refusal is an error with the target's answer.
func TestPushStreamsTheExposition(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, prometheus.Labels{"region": "kr-south-1"})
	m.Check("talk", "send", "api", "http").Observe(goldenCases["http"][0])
	e := expo.New(reg, nil, m)
	var want bytes.Buffer
	if err := e.Write(&want, false); err != nil {
		t.Fatal(err)
	}
	type request struct {
		length     int64
		encoding   string
		labels     []string
		body       []byte
		decodeFail error
	}
	got := make(chan request, 2)
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := request{length: r.ContentLength, encoding: r.Header.Get("Content-Encoding"), labels: r.URL.Query()["extra_label"]}
		z, err := gzip.NewReader(r.Body)
		if err == nil {
			req.body, err = io.ReadAll(z)
		}
		req.decodeFail = err
		got <- req
		w.WriteHeader(status)
		if status != http.StatusNoContent {
			_, _ = io.WriteString(w, "cannot parse line 7")
		}
	}))
	defer srv.Close()
	p, err := NewPusher(srv.URL+"/api/v1/import/prometheus", `instance="agent-1", team="a \"b\""`, e, prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Push(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.length != -1 || r.encoding != "gzip" || r.decodeFail != nil {
		t.Errorf("request: length %d, encoding %q, gunzip %v; want streamed (-1), gzip, readable", r.length, r.encoding, r.decodeFail)
	}
	if fmt.Sprint(r.labels) != `[instance=agent-1 team=a "b"]` {
		t.Errorf("extra_label arguments %q", r.labels)
	}
	// The series are the same; their values may have moved (the process's).
	series := func(b []byte) int { return strings.Count(string(b), "\nvigil_check_") }
	if series(r.body) != series(want.Bytes()) || series(r.body) == 0 {
		t.Errorf("pushed %d check series, the exposition has %d", series(r.body), series(want.Bytes()))
	}

	status = http.StatusBadRequest
	err = p.Push(t.Context())
	<-got
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request: cannot parse line 7") {
		t.Errorf("refused push: err = %v", err)
	}
}

func TestNewPusherRefusesBadLabels(t *testing.T) {
	for _, labels := range []string{`instance`, `instance=agent`, `1x="a"`, `a="b" c`, `a="b",,`} {
		if _, err := NewPusher("http://127.0.0.1:8428/api/v1/import/prometheus", labels, nil, prometheus.NewRegistry(), nil); err == nil ||
			!strings.HasPrefix(err.Error(), fmt.Sprintf("push labels %q: ", labels)) {
			t.Errorf("NewPusher(labels %q) = %v, want an error naming them", labels, err)
		}
	}
}
