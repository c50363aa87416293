package expo_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/expo/expotest"
)

func TestProtoMatchesProtobufGo(t *testing.T) {
	expotest.CheckProtoEquivalent(t, newSource())
	expotest.CheckProtoEquivalent(t, chunkySource(100)) // one chunk: one message a family
}

// renderProto renders s in protobuf on workers goroutines.
func renderProto(t *testing.T, s expo.Source, workers int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := expo.NewProtoWriter(&buf)
	w.SetParallel(workers)
	s.WriteMetrics(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestProtoSplitFamiliesHoldWhatTheTextHolds: families of many entities go
// out as several messages (a chunk of Each's, or flushAt bytes, each); merged
// back they are the families client_golang parses from the text, +Inf
// buckets aside, serial or in parallel.
func TestProtoSplitFamiliesHoldWhatTheTextHolds(t *testing.T) {
	for _, s := range []expo.Source{chunkySource(1), chunkySource(129), chunkySource(5000), bigSource(20000)} {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		want, err := parser.TextToMetricFamilies(strings.NewReader(render(t, s, 1, false)))
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range want {
			for _, m := range mf.Metric {
				if h := m.Histogram; h != nil {
					h.Bucket = h.Bucket[:len(h.Bucket)-1] // +Inf
				}
			}
		}
		serial := renderProto(t, s, 1)
		for _, workers := range []int{1, 2, 8} {
			data := serial
			if workers > 1 {
				data = renderProto(t, s, workers)
			}
			got := expotest.DecodeProto(t, data)
			if len(got) != len(want) {
				t.Fatalf("%T(%v) workers=%d: %d families, want %d", s, s, workers, len(got), len(want))
			}
			for name, mf := range want {
				if !equalFamilies(got[name], mf) {
					t.Errorf("%T(%v) workers=%d: family %s differs: %d metrics, want %d", s, s, workers, name, len(got[name].GetMetric()), len(mf.Metric))
				}
			}
		}
	}
}

func equalFamilies(a, b *dto.MetricFamily) bool {
	if a == nil || a.GetName() != b.GetName() || a.GetHelp() != b.GetHelp() || a.GetType() != b.GetType() {
		return false
	}
	return slices.EqualFunc(a.Metric, b.Metric, func(x, y *dto.Metric) bool { return x.String() == y.String() })
}

type nativeSource struct {
	native *expo.Native
}

var histFamily = expo.Family{Name: "n_seconds", Help: "A native histogram.", Type: expo.Histogram}

func (s nativeSource) WriteMetrics(w *expo.Writer) {
	l := expo.NewLabels(schema, "send", "kr-central-1", "talk")
	w.Family(&histFamily)
	var total uint64
	for _, c := range s.native.Counts {
		total += c
	}
	w.NativeHistogram(&l, buckets, []uint64{0, 1, 0, 0, total + s.native.ZeroCount - 1}, 12.5, s.native)
}

// TestProtoNativeSpansAndDeltas: the sparse buckets are grouped into spans as
// client_golang groups them (gaps of up to two buckets as zero deltas), and
// the text formats carry the classic histogram alone.
func TestProtoNativeSpansAndDeltas(t *testing.T) {
	type span struct {
		offset int32
		length uint32
	}
	for _, tt := range []struct {
		name   string
		native expo.Native
		spans  []span
		deltas []int64
	}{
		{"empty", expo.Native{Schema: 3, ZeroThreshold: 0x1p-20}, nil, nil},
		{"no threshold, empty", expo.Native{Schema: 3}, []span{{0, 0}}, nil},
		{"one bucket", expo.Native{Schema: 3, ZeroThreshold: 0x1p-20, Offset: -40, Counts: []uint64{0, 0, 5, 0}}, []span{{-38, 1}}, []int64{5}},
		{"gap of two", expo.Native{Schema: 0, ZeroThreshold: 0x1p-20, ZeroCount: 2, Offset: 3, Counts: []uint64{1, 0, 0, 4, 4}},
			[]span{{3, 5}}, []int64{1, -1, 0, 4, 0}},
		{"gap of three", expo.Native{Schema: -1, ZeroThreshold: 0x1p-20, Offset: -3, Counts: []uint64{7, 0, 0, 0, 2, 3}},
			[]span{{-3, 1}, {3, 2}}, []int64{7, -5, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := expotest.DecodeProto(t, renderProto(t, nativeSource{&tt.native}, 1))
			h := got["n_seconds"].GetMetric()[0].GetHistogram()
			var spans []span
			for _, s := range h.GetPositiveSpan() {
				spans = append(spans, span{s.GetOffset(), s.GetLength()})
			}
			if !slices.Equal(spans, tt.spans) || !slices.Equal(h.GetPositiveDelta(), tt.deltas) {
				t.Errorf("spans %v deltas %v, want %v %v", spans, h.GetPositiveDelta(), tt.spans, tt.deltas)
			}
			if h.GetSchema() != tt.native.Schema || h.GetZeroThreshold() != tt.native.ZeroThreshold || h.GetZeroCount() != tt.native.ZeroCount {
				t.Errorf("schema %d zero threshold %g zero count %d, want %d %g %d", h.GetSchema(), h.GetZeroThreshold(), h.GetZeroCount(),
					tt.native.Schema, tt.native.ZeroThreshold, tt.native.ZeroCount)
			}
			if len(h.GetBucket()) != 4 || h.GetBucket()[1].GetCumulativeCount() != 1 || h.GetSampleSum() != 12.5 {
				t.Errorf("classic part %v", h)
			}
			text := render(t, nativeSource{&tt.native}, 1, false)
			if strings.Contains(text, "schema") || !strings.Contains(text, `n_seconds_bucket{feature="send",region="kr-central-1",service="talk",le="0.5"} 1`) {
				t.Errorf("text:\n%s", text)
			}
		})
	}
}

func TestServeHTTPServesProtobuf(t *testing.T) {
	srv := httptest.NewServer(newExposition())
	defer srv.Close()
	for _, encoding := range []string{"gzip", "identity"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		// What Prometheus 2.42 sends with --enable-feature=native-histograms.
		req.Header.Set("Accept", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.2,*/*;q=0.1")
		req.Header.Set("Accept-Encoding", encoding)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		} else if encoding == "gzip" {
			t.Error("not gzipped though gzip was accepted")
		}
		data, err := io.ReadAll(body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited") {
			t.Errorf("Content-Type %q, want delimited protobuf", ct)
		}
		got := expotest.DecodeProto(t, data)
		if g := got["z_registry_gauge"].GetMetric()[0].GetGauge().GetValue(); g != 7 {
			t.Errorf("registry gauge %v, want 7", g)
		}
		if c := got["c_events_total"]; c.GetType() != dto.MetricType_COUNTER || c.GetMetric()[1].GetCounter().GetValue() != 42 {
			t.Errorf("counter family %v", c)
		}
		if h := got["d_seconds"].GetMetric()[0].GetHistogram(); h.GetSampleCount() != 10 || h.GetSampleSum() != 53.25 {
			t.Errorf("histogram %v", h)
		}
		if !math.IsNaN(got["a_gauge"].GetMetric()[3].GetGauge().GetValue()) {
			t.Errorf("a_gauge case 3 is %v, want NaN", got["a_gauge"].GetMetric()[3])
		}
	}
}

func TestProtoStopsWritingAfterAnOutputError(t *testing.T) {
	for _, workers := range []int{1, 4} {
		failing := countingWriter{failAfter: 2}
		w := expo.NewProtoWriter(&failing)
		w.SetParallel(workers)
		chunkySource(20000).WriteMetrics(w)
		if err := w.Flush(); err == nil || !strings.Contains(err.Error(), "connection reset") {
			t.Fatalf("workers=%d: Flush after a failing output = %v, want the write error", workers, err)
		}
		if failing.writes != 3 {
			t.Errorf("workers=%d: %d writes after the output failed on the third, want none", workers, failing.writes-3)
		}
	}
}
