package export

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/probes"
)

// nativeChecks is how many checks the Prometheus test serves: more than one
// of expo's Each chunks (128), so each family comes in several messages.
const nativeChecks = 300

// TestPrometheusScrapesNativeHistograms has Debian's Prometheus, with native
// histograms enabled (so it asks for protobuf first), scrape an Exposition on
// loopback and answers PromQL on the native series with the observed values:
// histogram_count, histogram_sum and histogram_quantile, in the standard and
// the basic profile, and every check's gauges arrive from the split families.
func TestPrometheusScrapesNativeHistograms(t *testing.T) {
	bin := testenv.NeedTool(t, "prometheus", "prometheus")

	m := NewMetrics(prometheus.NewRegistry(), prometheus.Labels{"region": "test"})
	for i := range nativeChecks {
		c := m.Check("svc", "f", "c"+strconv.Itoa(i), "http")
		if i%2 == 1 {
			c.SetProfile(ProfileBasic)
		}
		c.SetSchedule(10*time.Second, 5*time.Second)
		// Nine runs of 10 ms and one of i ms more than a second.
		for run := range 10 {
			d := 10 * time.Millisecond
			if run == 9 {
				d = time.Second + time.Duration(i)*time.Millisecond
			}
			c.Observe(&probes.Result{Start: start.Add(time.Duration(run) * 10 * time.Second), Duration: d, Success: true})
		}
	}
	target := httptest.NewServer(expo.New(nil, nil, m))
	defer target.Close()

	prom := startPrometheus(t, bin, target.Listener.Addr().String())
	for _, want := range []struct{ query, value string }{
		{`count(vigil_check_up == 1)`, strconv.Itoa(nativeChecks)},
		{`count(histogram_count(vigil_check_duration_seconds) == 10)`, strconv.Itoa(nativeChecks)},
		{`sum(vigil_check_interval_seconds)`, strconv.Itoa(10 * nativeChecks)},
	} {
		testenv.WaitFor(t, 30*time.Second, want.query+" = "+want.value, func() bool {
			got, err := prom.query(want.query)
			return err == nil && got == want.value
		})
	}
	// Without always_scrape_classic_histograms (scrape_classic_histograms
	// before 3.0; 2.42 has neither) the classic series of a histogram with a
	// native part are not stored, in standard either: what docs/operations.md
	// warns the rules and dashboards of.
	if got, err := prom.query(`count({__name__=~"vigil_check_duration_seconds_(bucket|count|sum)"})`); err != nil || got != "" {
		t.Errorf("classic duration series stored beside the native ones: %q, %v", got, err)
	}
	for _, check := range []string{"c0", "c1", "c7"} { // c0 is in standard, c1 and c7 in basic
		i, _ := strconv.Atoi(check[1:])
		sel := `vigil_check_duration_seconds{check="` + check + `"}`
		count, err := prom.float(`histogram_count(` + sel + `)`)
		if err != nil || count != 10 {
			t.Errorf("%s: histogram_count = %v, %v; want 10", check, count, err)
		}
		wantSum := 9*0.01 + 1 + float64(i)/1000
		if sum, err := prom.float(`histogram_sum(` + sel + `)`); err != nil || sum < wantSum-1e-9 || sum > wantSum+1e-9 {
			t.Errorf("%s: histogram_sum = %v, %v; want %v", check, sum, err, wantSum)
		}
		// The 0.9 quantile is the ninth of ten runs, all 10 ms: Prometheus
		// places it at the top of 10 ms's bucket, (2^(-54/8), 2^(-53/8)].
		q, err := prom.float(`histogram_quantile(0.9, ` + sel + `)`)
		if lo, hi := math.Exp2(-54.0/8), math.Exp2(-53.0/8); err != nil || q <= lo || q > hi {
			t.Errorf("%s: histogram_quantile(0.9) = %v, %v; want in (%v, %v]", check, q, err, lo, hi)
		}
		q90 := q
		// The top quantile is in the bucket of the long run.
		long := 1 + float64(i)/1000
		q, err = prom.float(`histogram_quantile(1, ` + sel + `)`)
		if err != nil || q < long || q > long*1.0906 {
			t.Errorf("%s: histogram_quantile(1) = %v, %v; want the upper bound of %v's bucket", check, q, err, long)
		}
		// The shipped dashboards' shape (dashboards.durationQuantile, here
		// without rate: one scrape): the classic buckets, or the native
		// histogram where there are none.
		dash := `histogram_quantile(0.9, sum by (le, check) (vigil_check_duration_seconds_bucket{check="` + check + `"}))` +
			` or histogram_quantile(0.9, sum by (check) (` + sel + `))`
		if got, err := prom.float(dash); err != nil || got != q90 {
			t.Errorf("%s: the dashboards' quantile = %v, %v; want the native %v", check, got, err, q90)
		}
	}
}

// prometheusAPI queries a Prometheus's HTTP API.
type prometheusAPI struct{ base string }

// promClient bounds each request, so that a hung Prometheus fails the test
// instead of holding it.
var promClient = &http.Client{Timeout: 5 * time.Second}

// startPrometheus runs bin with native histograms enabled, scraping target
// every second, and waits until it is ready.
func startPrometheus(t *testing.T, bin, target string) prometheusAPI {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	err := os.WriteFile(config, fmt.Appendf(nil, `global:
  scrape_interval: 1s
scrape_configs:
  - job_name: vigil
    static_configs:
      - targets: [%q]
`, target), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	exited := testenv.StartProcess(t, bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr, "--enable-feature=native-histograms", "--log.level=warn")
	testenv.WaitReady(t, "http://"+addr+"/-/ready", 20*time.Second, exited)
	return prometheusAPI{base: "http://" + addr}
}

// query returns the value of an instant query's one result ("" for none).
func (p prometheusAPI) query(q string) (string, error) {
	resp, err := promClient.Get(p.base + "/api/v1/query?" + url.Values{"query": {q}}.Encode())
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("query %s: %w: %s", q, err, body)
	}
	if r.Status != "success" {
		return "", fmt.Errorf("query %s: %s", q, r.Error)
	}
	switch len(r.Data.Result) {
	case 0:
		return "", nil
	case 1:
		s, _ := r.Data.Result[0].Value[1].(string)
		return s, nil
	}
	return "", fmt.Errorf("query %s: %d results, want one", q, len(r.Data.Result))
}

func (p prometheusAPI) float(q string) (float64, error) {
	s, err := p.query(q)
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(s, 64)
}
