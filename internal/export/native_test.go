package export

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/expo/expotest"
	"github.com/vigil-monitoring/vigil/probes"
)

// durationsBetween returns n durations spread log-uniformly over [lo, hi],
// a few exactly on bucket bounds, and zeros.
func durationsBetween(seed uint64, n int, lo, hi time.Duration) []time.Duration {
	r := rand.New(rand.NewPCG(seed, 1))
	out := []time.Duration{0, 0, 125 * time.Millisecond, 250 * time.Millisecond, time.Second}
	for range n {
		f := math.Log(float64(lo)) + r.Float64()*(math.Log(float64(hi))-math.Log(float64(lo)))
		out = append(out, time.Duration(math.Exp(f)))
	}
	return out
}

// protoHistogram renders m in protobuf, decodes it with expfmt and returns
// the duration histogram of check "c".
func protoHistogram(t *testing.T, m *Metrics) *dto.Histogram {
	t.Helper()
	var buf bytes.Buffer
	if err := expo.New(nil, nil, m).WriteProto(&buf); err != nil {
		t.Fatal(err)
	}
	mf := expotest.DecodeProto(t, buf.Bytes())["vigil_check_duration_seconds"]
	if mf.GetType() != dto.MetricType_HISTOGRAM || len(mf.GetMetric()) != 1 {
		t.Fatalf("vigil_check_duration_seconds: %v", mf)
	}
	return mf.GetMetric()[0].GetHistogram()
}

// TestNativeHistogramMatchesClientGolang: a check's duration histogram in the
// protobuf exposition, decoded by expfmt, is what client_golang's histogram
// with the same classic buckets, bucket factor and zero threshold holds after
// the same observations: count, sum, classic buckets, schema, zero bucket,
// spans and deltas. Durations that span more than the window (64 buckets)
// merge to a lower schema, as client_golang's histogram of that schema has
// them.
func TestNativeHistogramMatchesClientGolang(t *testing.T) {
	for _, tt := range []struct {
		name       string
		lo, hi     time.Duration
		wantSchema int32
	}{
		{"within the window", 20 * time.Millisecond, 2 * time.Second, 3},               // a factor 100: 54 buckets
		{"two decades", 10 * time.Millisecond, 5 * time.Second, 2},                     // a factor 500 at schema 3 is 72 buckets
		{"loopback to timeouts", 30 * time.Microsecond, 10 * time.Second, 1},           // 18 doublings
		{"microseconds to a day", 2 * time.Microsecond, 24 * time.Hour, 0},             // 35 doublings
		{"tight", 100 * time.Millisecond, 101 * time.Millisecond, nativeSchema},        // one or two buckets
		{"sub-microsecond", 10 * time.Nanosecond, 900 * time.Nanosecond, nativeSchema}, // the zero bucket alone
	} {
		for _, order := range []string{"random", "ascending", "descending"} {
			t.Run(tt.name+"/"+order, func(t *testing.T) {
				nativeMatchesClientGolang(t, tt.lo, tt.hi, tt.wantSchema, order)
			})
		}
	}
}

// nativeMatchesClientGolang observes 2,005 durations between lo and hi in
// order (ascending and descending make the window move, again and again)
// and compares with client_golang.
func nativeMatchesClientGolang(t *testing.T, lo, hi time.Duration, wantSchema int32, order string) {
	durations := durationsBetween(uint64(lo), 2000, lo, hi)
	switch order {
	case "ascending":
		slices.Sort(durations)
	case "descending":
		slices.Sort(durations)
		slices.Reverse(durations)
	}
	m := NewMetrics(prometheus.NewRegistry(), prometheus.Labels{"region": "test"})
	c := m.Check("svc", "f", "c", "http")
	for i, d := range durations {
		c.Observe(&probes.Result{Start: start.Add(time.Duration(i) * time.Second), Duration: d, Success: true})
	}
	got := protoHistogram(t, m)
	if got.GetSchema() != wantSchema {
		t.Fatalf("schema %d, want %d", got.GetSchema(), wantSchema)
	}

	reference := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "reference", Help: "client_golang's", Buckets: durationBuckets.Upper(),
		NativeHistogramBucketFactor:  math.Exp2(math.Exp2(-float64(wantSchema))) * 1.0001,
		NativeHistogramZeroThreshold: nativeZeroThreshold,
	})
	for _, d := range durations {
		reference.Observe(d.Seconds())
	}
	var want dto.Metric
	if err := reference.Write(&want); err != nil {
		t.Fatal(err)
	}
	want.Histogram.CreatedTimestamp = nil
	if !proto.Equal(got, want.Histogram) {
		t.Errorf("native histogram differs from client_golang's:\n got %v\nwant %v", got, want.Histogram)
	}
	if got.GetSampleCount() != uint64(len(durations)) {
		t.Errorf("count %d, want %d", got.GetSampleCount(), len(durations))
	}
}

// TestNativeHistogramInBasic: the basic profile has no classic buckets but
// +Inf, which protobuf leaves to the count; the native buckets are all there.
func TestNativeHistogramInBasic(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry(), prometheus.Labels{"region": "test"})
	c := m.Check("svc", "f", "c", "http")
	c.SetProfile(ProfileBasic)
	for _, d := range []time.Duration{0, 3 * time.Millisecond, 3 * time.Millisecond, 40 * time.Millisecond} {
		c.Observe(&probes.Result{Start: start, Duration: d, Success: true})
	}
	h := protoHistogram(t, m)
	if len(h.GetBucket()) != 0 || h.GetSampleCount() != 4 || math.Abs(h.GetSampleSum()-0.046) > 1e-12 {
		t.Errorf("basic: %d classic buckets, count %d, sum %g; want none, 4, 0.046", len(h.GetBucket()), h.GetSampleCount(), h.GetSampleSum())
	}
	// 3 ms is in bucket ceil(8*log2(0.003)) = -67, 40 ms in -37: two spans.
	var total int64
	var deltas []int64
	for _, d := range h.GetPositiveDelta() {
		total += d
		deltas = append(deltas, total)
	}
	if h.GetSchema() != 3 || h.GetZeroCount() != 1 || len(h.GetPositiveSpan()) != 2 ||
		h.GetPositiveSpan()[0].GetOffset() != -67 || h.GetPositiveSpan()[1].GetOffset() != -37-(-67+1) ||
		len(deltas) != 2 || deltas[0] != 2 || deltas[1] != 1 {
		t.Errorf("native part: schema %d zero %d spans %v counts %v", h.GetSchema(), h.GetZeroCount(), h.GetPositiveSpan(), deltas)
	}
}

// TestNativeWindowGrowsToTheSpan: the native buckets take room for the span
// the durations use, not the 64 buckets at most, and observing within that
// span allocates nothing.
func TestNativeWindowGrowsToTheSpan(t *testing.T) {
	var s sparse
	if s.observe(0); s.counts != nil {
		t.Fatalf("a zero duration took %d buckets; want none (the zero bucket)", len(s.counts))
	}
	for _, tt := range []struct {
		d         time.Duration
		wantWidth int
	}{
		{3 * time.Millisecond, nativeMinWidth},    // bucket -67
		{3100 * time.Microsecond, nativeMinWidth}, // -67 again
		{4 * time.Millisecond, nativeMinWidth},    // -63: the window moves
		{5 * time.Millisecond, nativeMinWidth},    // -61: buckets -67 to -61 fit in 8
		{6 * time.Millisecond, 16},                // -59: 9 buckets
		{20 * time.Millisecond, 32},               // -45: 23
		{200 * time.Millisecond, nativeWidth},     // -18: 50
		{4 * time.Second, nativeWidth},            // 16: 84 buckets, 42 at schema 2
	} {
		s.observe(tt.d.Seconds())
		if len(s.counts) != tt.wantWidth {
			t.Errorf("after %v: %d buckets, want %d", tt.d, len(s.counts), tt.wantWidth)
		}
	}
	if s.schema != 2 {
		t.Errorf("schema %d after a span of 84 buckets at schema 3, want 2", s.schema)
	}
	if n := testing.AllocsPerRun(100, func() { s.observe(0.05) }); n != 0 {
		t.Errorf("observing within the window: %v allocations, want 0", n)
	}
}
