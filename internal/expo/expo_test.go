package expo_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/expo/expotest"
)

// source is a small Source with the awkward cases: escaped values, an extra
// label sorting first, in the middle and last, special floats, a histogram,
// a counter, and a family with no samples.
type source struct {
	labels []expo.Labels
}

var schema = expo.NewSchema("region", "service", "feature")

func newSource() *source {
	return &source{labels: []expo.Labels{
		// NewLabels takes values in the schema's sorted order: feature, region, service.
		expo.NewLabels(schema, "send", "kr-central-1", "talk"),
		expo.NewLabels(schema, `quo"te\back`+"\nline", "kr-central-1", "한국어"),
	}}
}

var (
	families = []expo.Family{
		{Name: "a_gauge", Help: `Help with "quotes", a \ and a` + "\nnewline.", Type: expo.Gauge},
		{Name: "b_empty", Help: "Never has samples.", Type: expo.Gauge},
		{Name: "c_events_total", Help: "A counter.", Type: expo.Counter},
		{Name: "d_seconds", Help: "A histogram.", Type: expo.Histogram},
		{Name: "e_extra", Help: "One more label, at each place.", Type: expo.Gauge},
	}
	buckets = expo.NewBuckets(0.001, 0.5, 1, 10)

	first, middle, last = expo.NewPair("aaa", "first"), expo.NewPair("phase", "middle"), expo.NewPair("zone", "last")
)

func (s *source) WriteMetrics(w *expo.Writer) {
	values := []float64{0, 1, -1, math.NaN(), math.Inf(1), math.Inf(-1), 1234567, 0.000012, 100000, 2.5, 1e21,
		999999, -999999, 1e6, -42, 200, 1.7640381234567e9}
	w.Family(&families[0])
	for i, v := range values {
		p := expo.NewPair("case", strconv.Itoa(i))
		w.SampleWith(&s.labels[i%len(s.labels)], &p, v)
	}
	w.Family(&families[1])
	w.Family(&families[2])
	for i := range s.labels {
		w.Sample(&s.labels[i], 42)
	}
	w.Family(&families[3])
	for i := range s.labels {
		w.Histogram(&s.labels[i], buckets, []uint64{1, 0, 2, 3, 4}, 53.25)
	}
	w.Family(&families[4])
	for i := range s.labels {
		l := &s.labels[i]
		w.SampleWith(l, &first, 1)
		w.SampleWith(l, &middle, 2)
		w.SampleWith(l, &last, 3)
	}
}

func TestWriterMatchesClientGolang(t *testing.T) {
	text := string(expotest.CheckEquivalent(t, newSource()))
	for _, want := range []string{
		`a_gauge{case="0",feature="send",region="kr-central-1",service="talk"} 0`,
		`a_gauge{case="1",feature="quo\"te\\back\nline",region="kr-central-1",service="한국어"} 1`,
		`a_gauge{case="6",feature="send",region="kr-central-1",service="talk"} 1.234567e+06`,
		`e_extra{aaa="first",feature="send",region="kr-central-1",service="talk"} 1`,
		`e_extra{feature="send",phase="middle",region="kr-central-1",service="talk"} 2`,
		`e_extra{feature="send",region="kr-central-1",service="talk",zone="last"} 3`,
		`d_seconds_bucket{feature="send",region="kr-central-1",service="talk",le="1"} 3`,
		`d_seconds_bucket{feature="send",region="kr-central-1",service="talk",le="+Inf"} 10`,
		`d_seconds_count{feature="send",region="kr-central-1",service="talk"} 10`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("text lacks %s", want)
		}
	}
	if strings.Contains(text, "b_empty") {
		t.Errorf("a family without samples was written:\n%s", text)
	}
	om := string(expotest.Render(t, newSource(), true))
	for _, want := range []string{
		"# TYPE c_events counter\n",
		`c_events_total{feature="send",region="kr-central-1",service="talk"} 42.0`,
		`d_seconds_bucket{feature="send",region="kr-central-1",service="talk",le="1.0"} 3`,
	} {
		if !strings.Contains(om, want) {
			t.Errorf("OpenMetrics lacks %s", want)
		}
	}
}

// bigSource writes n samples, enough to make the Writer flush many times.
type bigSource int

func (n bigSource) WriteMetrics(w *expo.Writer) {
	l := expo.NewLabels(schema, "send", "kr-central-1", "talk")
	w.Family(&families[0])
	for i := range int(n) {
		w.Sample(&l, float64(i))
	}
}

// countingWriter counts writes and fails after failAfter of them (0: never).
type countingWriter struct {
	writes, failAfter int
	bytes             int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	if c.failAfter > 0 && c.writes > c.failAfter {
		return 0, errors.New("connection reset")
	}
	c.bytes += len(p)
	return len(p), nil
}

func TestWriterStreamsAndStopsOnError(t *testing.T) {
	const n = 20000 // about 1.4 MB
	var out countingWriter
	if err := expo.New(nil, nil, bigSource(n)).Write(&out, false); err != nil {
		t.Fatal(err)
	}
	if out.writes < 10 {
		t.Errorf("%d bytes in %d writes: the output is not streamed", out.bytes, out.writes)
	}
	var buf bytes.Buffer
	if err := expo.New(nil, nil, bigSource(n)).Write(&buf, false); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != n+2 || buf.Len() != out.bytes {
		t.Errorf("%d lines, %d bytes; want %d lines, %d bytes", lines, buf.Len(), n+2, out.bytes)
	}

	failing := countingWriter{failAfter: 2}
	err := expo.New(nil, nil, bigSource(n)).Write(&failing, false)
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Write to a failing output = %v, want the write error", err)
	}
	if failing.writes != 3 {
		t.Errorf("%d writes after the output failed on the third, want none", failing.writes-3)
	}
}

func newExposition() *expo.Exposition {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "z_registry_gauge", Help: "From the registry."})
	g.Set(7)
	reg.MustRegister(g)
	return expo.New(reg, nil, newSource())
}

func TestServeHTTPNegotiatesAndCompresses(t *testing.T) {
	srv := httptest.NewServer(newExposition())
	defer srv.Close()
	get := func(accept, encoding string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("Accept", accept)
		req.Header.Set("Accept-Encoding", encoding) // set, so the client does not decompress
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}

	// What Prometheus 3 sends: OpenMetrics preferred.
	resp, body := get("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2", "gzip")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0") {
		t.Errorf("Content-Type %q, want OpenMetrics", ct)
	}
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("not gzipped though gzip was accepted")
	}
	if !strings.HasSuffix(body, "# EOF\n") || strings.Count(body, "# EOF") != 1 {
		t.Errorf("OpenMetrics must end in exactly one # EOF:\n%s", body)
	}
	for _, want := range []string{"z_registry_gauge 7.0\n", "# TYPE c_events counter\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("OpenMetrics body lacks %q", want)
		}
	}

	resp, body = get("text/plain", "identity")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q, want text 0.0.4", ct)
	}
	if resp.Header.Get("Content-Encoding") != "" || strings.Contains(body, "# EOF") {
		t.Errorf("plain text was encoded %q or has an EOF", resp.Header.Get("Content-Encoding"))
	}
	for _, want := range []string{"z_registry_gauge 7\n", "# TYPE c_events_total counter\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("text body lacks %q", want)
		}
	}
	if _, body = get("text/plain", "gzip;q=0"); body == "" {
		t.Error("empty body with gzip refused")
	}
}

func TestGatherMergesRegistryAndSources(t *testing.T) {
	mfs, err := newExposition().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	series := 0
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		series += len(mf.GetMetric())
	}
	if got := strings.Join(names, " "); got != "a_gauge c_events_total d_seconds e_extra z_registry_gauge" {
		t.Errorf("families %s", got)
	}
	if series != 17+2+2+6+1 {
		t.Errorf("%d series, want %d", series, 17+2+2+6+1)
	}
}

// failingResponse fails every write after the first few.
type failingResponse struct {
	header http.Header
	countingWriter
}

func (f *failingResponse) Header() http.Header { return f.header }
func (f *failingResponse) WriteHeader(int)     {}

// TestServeHTTPStopsWhenTheScraperGoes: a scraper that hangs up mid-way
// (gzip path, with its writer goroutine) ends the handler and its goroutine.
func TestServeHTTPStopsWhenTheScraperGoes(t *testing.T) {
	defer goleak.VerifyNone(t)
	e := expo.New(nil, nil, bigSource(200000))
	rw := &failingResponse{header: http.Header{}, countingWriter: countingWriter{failAfter: 1}}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	done := make(chan struct{})
	go func() {
		e.ServeHTTP(rw, req)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("handler still running 10s after its client failed")
	}
	if rw.writes < 2 {
		t.Fatalf("%d writes: the failure was never met", rw.writes)
	}
}

// chunkySource has entities that write nothing, one sample, or a histogram,
// so that Each's chunks are empty, small and big, and the first chunks of
// one family are empty.
type chunkySource int

func (n chunkySource) WriteMetrics(w *expo.Writer) {
	labels := make([]expo.Labels, n)
	for i := range labels {
		labels[i] = expo.NewLabels(schema, "f"+strconv.Itoa(i), "kr-central-1", "talk")
	}
	w.Family(&families[0])
	w.Each(int(n), func(w *expo.Writer, i int) { w.Sample(&labels[i], float64(i)) })
	w.Family(&families[1])
	w.Each(int(n), func(*expo.Writer, int) {})
	w.Family(&families[2])
	w.Each(int(n), func(w *expo.Writer, i int) {
		if i >= int(n)/2 {
			w.Sample(&labels[i], float64(i))
		}
	})
	w.Family(&families[3])
	w.Each(int(n), func(w *expo.Writer, i int) {
		w.Histogram(&labels[i], buckets, []uint64{uint64(i), 0, 2, 3, 4}, float64(i)/4)
	})
	w.Family(&families[4])
	w.Each(int(n), func(w *expo.Writer, i int) {
		if i%97 == 0 {
			w.SampleWith(&labels[i], &middle, float64(i))
		}
	})
}

func render(t *testing.T, s expo.Source, workers int, openMetrics bool) string {
	t.Helper()
	var buf bytes.Buffer
	w := expo.NewWriter(&buf, openMetrics)
	w.SetParallel(workers)
	s.WriteMetrics(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestEachInParallelWritesWhatALoopWrites(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 129, 1000, 5000} {
		for _, om := range []bool{false, true} {
			serial := render(t, chunkySource(n), 1, om)
			if n > 0 && !strings.Contains(serial, "# TYPE c_events") {
				t.Fatalf("n=%d: no c_events family:\n%.500s", n, serial)
			}
			for _, workers := range []int{2, 3, 8} {
				if got := render(t, chunkySource(n), workers, om); got != serial {
					t.Errorf("n=%d openMetrics=%v workers=%d: %d bytes, want the loop's %d; first difference: %s",
						n, om, workers, len(got), len(serial), expotest.FirstDiff(serial, got, "loop", "Each"))
				}
			}
		}
	}
	// The serial text itself is what client_golang would write.
	expotest.CheckEquivalent(t, chunkySource(300))
}

func TestEachStopsWritingAfterAnOutputError(t *testing.T) {
	failing := countingWriter{failAfter: 2}
	w := expo.NewWriter(&failing, false)
	w.SetParallel(4)
	chunkySource(20000).WriteMetrics(w)
	if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Flush after a failing output = %v, want the write error", err)
	}
	if failing.writes != 3 {
		t.Errorf("%d writes after the output failed on the third, want none", failing.writes-3)
	}
}
