package export

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/expo/expotest"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/sla"
)

// renderLandscape is n one-check HTTP features, 50 a service, each check
// with one of the worst-case run histories (plain, TLS, every result), their
// SLA state real, in the per-check and SLA metrics of one exposition.
type renderLandscape struct {
	checks   []*CheckMetrics
	specs    []sla.FeatureSpec
	metrics  *Metrics
	features *SLAMetrics
	e        *expo.Exposition
}

func newRenderLandscape(t *testing.T, n int) *renderLandscape {
	t.Helper()
	clock := &fakeClock{t: t0}
	engine := openEngine(t, clock)
	l := &renderLandscape{specs: make([]sla.FeatureSpec, n)}
	for i := range l.specs {
		l.specs[i] = featureSpec(fmt.Sprintf("svc%02d", i/50), fmt.Sprintf("f%04d", i), map[string]string{"tier": fmt.Sprint(i % 3)})
	}
	configure(t, engine, l.specs...)
	labels := map[string]string{"region": "kr-central-1"}
	reg := prometheus.NewRegistry()
	l.metrics = NewMetrics(reg, labels)
	l.features = NewSLAMetrics(engine, labels, nil)
	histories := [][]*probes.Result{plainRuns, tlsRuns, tlsEveryResult}
	for i, spec := range l.specs {
		c := l.metrics.Check(spec.Service, spec.Feature, "a", "http")
		c.SetSchedule(10*time.Second, 5*time.Second)
		for _, r := range histories[i%len(histories)] {
			c.Observe(r)
			engine.Observe(spec.Service, spec.Feature, "a", sla.Observation{Start: r.Start, Duration: r.Duration, Success: r.Success})
		}
		l.checks = append(l.checks, c)
	}
	clock.Set(t0.Add(time.Hour))
	l.e = expo.New(reg, nil, l.metrics, l.features)
	return l
}

// setProfiles gives feature i and its check profile(i).
func (l *renderLandscape) setProfiles(profile func(i int) Profile) {
	profiles := FeatureProfiles{}
	for i, spec := range l.specs {
		profiles[[2]string{spec.Service, spec.Feature}] = profile(i)
		l.checks[i].SetProfile(profile(i))
	}
	l.features.SetProfiles(profiles)
}

// render writes the per-check and SLA families on workers goroutines.
func (l *renderLandscape) render(t *testing.T, workers int, openMetrics bool) string {
	t.Helper()
	var buf bytes.Buffer
	w := expo.NewWriter(&buf, openMetrics)
	w.SetParallel(workers)
	l.metrics.WriteMetrics(w)
	l.features.WriteMetrics(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

var renderProfiles = []struct {
	name    string
	profile func(i int) Profile
}{
	{"basic", func(int) Profile { return ProfileBasic }},
	{"standard", func(int) Profile { return ProfileStandard }},
	{"full", func(int) Profile { return ProfileFull }},
	{"mixed", func(i int) Profile { return Profile(1 + i%3) }},
}

// TestParallelRenderEqualsSerial: the per-check and SLA families rendered on
// several goroutines are byte for byte what one goroutine writes, around the
// boundaries of Each's chunks (128) and of warm's reads (16), in every
// profile and a mix of them, in both text formats.
func TestParallelRenderEqualsSerial(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 128, 129, 700} {
		l := newRenderLandscape(t, n)
		for _, p := range renderProfiles {
			l.setProfiles(p.profile)
			for _, om := range []bool{false, true} {
				serial := l.render(t, 1, om)
				if want := n; strings.Count(serial, "vigil_check_up{") != want {
					t.Fatalf("n=%d %s: %d vigil_check_up series, want %d", n, p.name, strings.Count(serial, "vigil_check_up{"), want)
				}
				for _, workers := range []int{2, 3, 8} {
					if got := l.render(t, workers, om); got != serial {
						t.Errorf("n=%d %s openMetrics=%v workers=%d: %d bytes, serial %d; first difference: %s",
							n, p.name, om, workers, len(got), len(serial), expotest.FirstDiff(serial, got, "serial", "parallel"))
					}
				}
			}
		}
	}
}

// TestGzipScrapeDecodesAndParses: a gzip scrape (what Prometheus asks for) of
// 2,000 features, several compressed chunks, reads back through Go's gzip
// reader as the plain scrape's bytes, and client_golang's text parser reads
// every series of it.
func TestGzipScrapeDecodesAndParses(t *testing.T) {
	l := newRenderLandscape(t, 2000)
	for _, p := range renderProfiles {
		t.Run(p.name, func(t *testing.T) {
			l.setProfiles(p.profile)
			var plain, zipped bytes.Buffer
			if err := l.e.Write(&plain, false); err != nil {
				t.Fatal(err)
			}
			if err := l.e.WriteGzip(&zipped, false); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d bytes plain, %d gzipped", p.name, plain.Len(), zipped.Len())
			if zipped.Len()*5 > plain.Len() {
				t.Errorf("gzip scrape %d bytes for %d plain: not compressed", zipped.Len(), plain.Len())
			}
			r, err := gzip.NewReader(&zipped)
			if err != nil {
				t.Fatalf("gzip header: %v", err)
			}
			unzipped, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("gzip stream: %v", err)
			}
			if !bytes.Equal(unzipped, plain.Bytes()) {
				t.Fatalf("gzip scrape: %d bytes decoded, plain scrape %d; first difference: %s",
					len(unzipped), plain.Len(), expotest.FirstDiff(plain.String(), string(unzipped), "plain", "gzip"))
			}
			parser := expfmt.NewTextParser(model.UTF8Validation)
			families, err := parser.TextToMetricFamilies(bytes.NewReader(unzipped))
			if err != nil {
				t.Fatalf("text parser: %v", err)
			}
			parsed := 0
			for _, mf := range families {
				for _, m := range mf.GetMetric() {
					parsed++
					if h := m.GetHistogram(); h != nil {
						parsed += len(h.GetBucket()) + 1 // _bucket lines, _sum and _count
					}
				}
			}
			if lines := seriesCount(unzipped); parsed != lines {
				t.Errorf("parser read %d series, the scrape has %d sample lines", parsed, lines)
			}
			if got := len(families["vigil_check_up"].GetMetric()); got != 2000 {
				t.Errorf("vigil_check_up: %d series parsed, want 2000", got)
			}
		})
	}
}
