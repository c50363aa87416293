package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/bench/internal/workload"
	"github.com/vigil-monitoring/vigil/internal/agent"
	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/export"
	"github.com/vigil-monitoring/vigil/internal/web"
	"github.com/vigil-monitoring/vigil/probes"
)

// countingWriter is a ResponseWriter that keeps nothing but the byte count.
type countingWriter struct {
	header http.Header
	n      int64
	status int
}

func (w *countingWriter) Header() http.Header { return w.header }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

func (w *countingWriter) WriteHeader(status int) { w.status = status }

// BenchmarkExposition renders /metrics and /api/v1/features of an agent
// running n HTTP checks (each alone in its feature), after every check ran
// once, through the agent's own HTTP handler: one op is one render.
// VIGIL_BENCH_CPUPROFILE profiles the renders alone.
func BenchmarkExposition(b *testing.B) {
	addrs := startTargets(b)
	for _, n := range []int{1000, 10000} {
		w := workload.HTTP(n, 10*time.Second, 0, 0, addrs, nil)
		b.Run(fmt.Sprintf("checks=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			cfg := filepath.Join(dir, "vigil.yml")
			if err := os.WriteFile(cfg, []byte(workload.VigilConfig(w)), 0o644); err != nil {
				b.Fatal(err)
			}
			a, err := agent.New(agent.Options{ConfigFile: cfg, StoragePath: filepath.Join(dir, "data"), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := a.Shutdown(context.Background()); err != nil {
					b.Errorf("shutdown: %v", err)
				}
			}()
			wait(w.Checks[0].Interval + time.Second)
			handler := web.New(a, web.Options{}).Handler()
			for _, v := range []struct{ name, path, accept, encoding string }{
				{"metrics-text", "/metrics", "text/plain;version=0.0.4", ""},
				{"metrics-openmetrics-gzip", "/metrics", "application/openmetrics-text;version=1.0.0", "gzip"},
				{"features-json", "/api/v1/features", "", ""},
			} {
				b.Run(v.name, func(b *testing.B) {
					req := httptest.NewRequest(http.MethodGet, v.path, nil)
					if v.accept != "" {
						req.Header.Set("Accept", v.accept)
					}
					if v.encoding != "" {
						req.Header.Set("Accept-Encoding", v.encoding)
					}
					stop := startWindowProfile(b)
					defer stop()
					var bytes int64
					for b.Loop() {
						rw := &countingWriter{header: http.Header{}}
						handler.ServeHTTP(rw, req)
						if rw.status != 0 && rw.status != http.StatusOK {
							b.Fatalf("%s: status %d", v.path, rw.status)
						}
						bytes = rw.n
					}
					b.ReportMetric(float64(bytes), "bytes/op")
				})
			}
		})
	}
}

// countBytes is an io.Writer that only counts.
type countBytes int64

func (c *countBytes) Write(p []byte) (int, error) {
	*c += countBytes(len(p))
	return len(p), nil
}

// BenchmarkCheckSeries renders only the probe-level series of 10,000 HTTP
// checks (31 series each) two ways: with internal/expo, as the agent does,
// and, for the same series text, with VictoriaMetrics/metrics' writer
// (already in go.mod for push), a fast writer to compare with. Before expo,
// client_golang's Gather and encoder took 0.73 s here (bench/RESULTS.md).
func BenchmarkCheckSeries(b *testing.B) {
	const checks = 10000
	phases := []probes.Phase{{Name: "resolve"}, {Name: "connect", Duration: 80 * time.Microsecond},
		{Name: "tls"}, {Name: "processing", Duration: 60 * time.Microsecond}, {Name: "transfer", Duration: 5 * time.Microsecond}}
	result := &probes.Result{Start: time.Now(), Duration: 300 * time.Microsecond, Success: true, Phases: phases,
		HTTP: &probes.HTTPInfo{StatusCode: 200, Version: "HTTP/1.1", ContentLength: 56}}
	b.Run("expo", func(b *testing.B) {
		m := export.NewMetrics(prometheus.NewRegistry(), prometheus.Labels{"region": "bench"})
		for i := range checks {
			m.Check(fmt.Sprintf("svc%03d", i/100), fmt.Sprintf("f%05d", i), "http", "http").Observe(result)
		}
		var n countBytes
		b.ReportAllocs()
		for b.Loop() {
			n = 0
			w := expo.NewWriter(&n, false)
			m.WriteMetrics(w)
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n), "bytes/op")
	})
	b.Run("victoriametrics", func(b *testing.B) {
		set := vm.NewSet()
		buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
		for i := range checks {
			l := fmt.Sprintf(`check="http",feature="f%05d",kind="http",region="bench",service="svc%03d"`, i, i/100)
			set.NewGauge("vigil_check_up{"+l+"}", nil).Set(1)
			for _, res := range []string{"failure", "success", "timeout"} {
				set.NewCounter(`vigil_check_runs_total{` + l + `,result="` + res + `"}`).Set(1)
			}
			set.NewPrometheusHistogramExt("vigil_check_duration_seconds{"+l+"}", buckets).Update(result.Duration.Seconds())
			for _, p := range phases {
				set.NewGauge(`vigil_check_phase_duration_seconds{`+l+`,phase="`+p.Name+`"}`, nil).Set(p.Duration.Seconds())
			}
			for _, name := range []string{"vigil_check_last_run_timestamp_seconds", "vigil_http_status_code", "vigil_http_version",
				"vigil_http_content_length_bytes", "vigil_http_redirects"} {
				set.NewGauge(name+"{"+l+"}", nil).Set(1)
			}
		}
		var n countBytes
		b.ReportAllocs()
		for b.Loop() {
			n = 0
			set.WritePrometheus(&n)
		}
		b.ReportMetric(float64(n), "bytes/op")
	})
}
