package expo

import (
	"math"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const exposition = `# HELP vigil_check_runs_total Check runs by result.
# TYPE vigil_check_runs_total counter
vigil_check_runs_total{check="http",feature="f1",kind="http",region="bench",result="success",service="s"} 12
vigil_check_runs_total{check="http",feature="f1",kind="http",region="bench",result="failure",service="s"} 1
vigil_check_up{check="http",feature="f1",kind="http",region="bench",service="s"} 1
vigil_feature_info{feature="f1",service="s",title="A \"quoted\" title\nwith a newline and a \\"} 1
vigil_schedule_lateness_seconds_bucket{region="bench",le="0.001"} 3
vigil_schedule_lateness_seconds_bucket{region="bench",le="0.01"} 9
vigil_schedule_lateness_seconds_bucket{region="bench",le="+Inf"} 10
process_start_time_seconds 1.7e+09
`

func TestParse(t *testing.T) {
	got, err := Parse(strings.NewReader(exposition), "vigil_check_runs_total", "vigil_feature_info", "process_start_time_seconds")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name, label, value string
		v                  float64
	}{
		{"vigil_check_runs_total", "result", "success", 12},
		{"vigil_check_runs_total", "result", "failure", 1},
		{"vigil_feature_info", "title", "A \"quoted\" title\nwith a newline and a \\", 1},
		{"process_start_time_seconds", "", "", 1.7e9},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d samples, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Name != w.name || got[i].Get(w.label) != w.value || got[i].Value != w.v {
			t.Errorf("sample %d = %+v, want %s{%s=%q} %v", i, got[i], w.name, w.label, w.value, w.v)
		}
	}
	if s := got[0].Get("service"); s != "s" {
		t.Errorf("service label = %q, want s", s)
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{
		"x{a=\"1\" 2\n",    // unterminated label set
		"x{a=\"1} 2\n",     // unterminated value
		"x{a=\"1\"}\n",     // no value
		"x{a=\"1\"} one\n", // bad value
	} {
		if _, err := Parse(strings.NewReader(bad), "x"); err == nil {
			t.Errorf("Parse(%q): want an error", bad)
		}
	}
}

func TestHistogram(t *testing.T) {
	samples, err := Parse(strings.NewReader(exposition), "vigil_schedule_lateness_seconds_bucket")
	if err != nil {
		t.Fatal(err)
	}
	h, err := Buckets(samples)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || !math.IsInf(h[2].UpperBound, 1) || h[2].Count != 10 {
		t.Fatalf("buckets = %+v", h)
	}
	earlier := []Bucket{{0.001, 1}, {0.01, 1}, {math.Inf(1), 2}}
	delta, err := Sub(h, earlier)
	if err != nil {
		t.Fatal(err)
	}
	if delta[0].Count != 2 || delta[1].Count != 8 || delta[2].Count != 8 {
		t.Errorf("delta = %+v", delta)
	}
	if _, err := Sub(h, earlier[:2]); err == nil {
		t.Error("Sub of histograms with different buckets: want an error")
	}
	tests := []struct {
		q    float64
		want float64
	}{
		{0.2, 0.000666666},     // rank 2 of 3 in [0, 1ms]
		{0.5, 0.001 + 0.009/3}, // rank 5: 2 of 6 in (1ms, 10ms]
		{0.95, 0.01},           // in +Inf: the highest finite bound
	}
	for _, tt := range tests {
		if got := Quantile(tt.q, h); math.Abs(got-tt.want) > 1e-6 {
			t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := Quantile(0.5, []Bucket{{1, 0}, {math.Inf(1), 0}}); !math.IsNaN(got) {
		t.Errorf("Quantile of an empty histogram = %v, want NaN", got)
	}
	if got := CountAbove(0.001, h); got != 7 {
		t.Errorf("CountAbove(1ms) = %v, want 7", got)
	}
	if b, err := h[2].MarshalJSON(); err != nil || string(b) != `{"le":"+Inf","count":10}` {
		t.Errorf("MarshalJSON = %s, %v", b, err)
	}
}
