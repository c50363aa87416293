package globalrole

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/internal/global"
	"github.com/vigil-monitoring/vigil/internal/globalview"
	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/sla"
	"github.com/vigil-monitoring/vigil/sla/store"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// clock is a settable sla.Clock shared by the agents and the view.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func natsURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("VIGIL_TEST_NATS_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	testenv.NeedTCP(t, strings.TrimPrefix(u, "nats://"), "nats-server with JetStream (VIGIL_TEST_NATS_URL)")
	return u
}

// testSource is a stream and subject prefix of this test only, deleted
// when it ends.
func testSource(t *testing.T) Source {
	t.Helper()
	url := natsURL(t)
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	src := Source{URL: url, Stream: "VIGILGLOBALTEST_" + strings.ToUpper(id), SubjectPrefix: "vgt" + id, Name: t.Name()}
	t.Cleanup(func() { deleteStream(t, src) })
	return src
}

func jsConn(t *testing.T, src Source) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(src.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func deleteStream(t *testing.T, src Source) {
	nc, err := nats.Connect(src.URL)
	if err != nil {
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, src.Stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("delete stream %s: %v", src.Stream, err)
	}
}

// agent is a real SLA engine with its outbox, published by the real
// publisher: what a region's agent puts on the stream, without probes.
type agent struct {
	region, id string
	e          *sla.Engine
}

var featureNames = []string{"send", "drawer"}

func newAgent(t *testing.T, region string, c *clock) *agent {
	t.Helper()
	id := region + "-0"
	e, err := sla.New(store.NewMemory(), sla.Options{Region: region, Agent: id, Clock: c, ScheduledHeartbeat: true, Outbox: true})
	if err != nil {
		t.Fatal(err)
	}
	var specs []sla.FeatureSpec
	for _, f := range featureNames {
		specs = append(specs, sla.FeatureSpec{Service: "talk", Feature: f, Objective: 0.999, Window: 30 * 24 * time.Hour,
			FailureThreshold: 1, RecoveryThreshold: 1, Checks: []sla.CheckSpec{{Name: "api", Kind: "http"}}})
	}
	if err := e.Configure(specs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return &agent{region: region, id: id, e: e}
}

// observe records one run per feature at the clock's time (failing for
// the features named) and a heartbeat.
func (a *agent) observe(t *testing.T, c *clock, failing ...string) {
	t.Helper()
	for _, f := range featureNames {
		o := sla.Observation{Start: c.Now(), Duration: 10 * time.Millisecond, Success: true}
		for _, bad := range failing {
			if bad == f {
				o.Success, o.Error = false, "connection refused"
			}
		}
		a.e.Observe("talk", f, "api", o)
	}
	if err := a.e.Heartbeat(); err != nil {
		t.Fatal(err)
	}
}

// publish sends the agent's outbox to the stream with the real publisher
// and returns once all of it is acknowledged.
func (a *agent) publish(t *testing.T, src Source) {
	t.Helper()
	p := global.NewPublisher(global.Config{URL: src.URL, Stream: src.Stream, SubjectPrefix: src.SubjectPrefix,
		Name: a.id, Poll: 10 * time.Millisecond}, a.e)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testenv.WaitFor(t, 20*time.Second, a.id+"'s outbox published", func() bool {
		left, err := a.e.OutboxAfter(0, 1)
		return err == nil && len(left) == 0
	})
}

// landscape: regions a, b and c. talk/send fails from a and b (a global
// outage), talk/drawer only from a (regional). It returns the clock at
// the end (t0+20s) and the agents.
func landscape(t *testing.T, src Source) (*clock, []*agent) {
	t.Helper()
	c := &clock{t: t0}
	var agents []*agent
	for _, region := range []string{"a", "b", "c"} {
		agents = append(agents, newAgent(t, region, c))
	}
	for step, failing := range [][][]string{
		{nil, nil, nil},
		{{"send", "drawer"}, {"send"}, nil},
		{{"send", "drawer"}, {"send"}, nil},
	} {
		c.Set(t0.Add(time.Duration(step) * 10 * time.Second))
		for i, a := range agents {
			a.observe(t, c, failing[i]...)
		}
	}
	for _, a := range agents {
		a.publish(t, src)
	}
	return c, agents
}

// startRole runs a role with a real view on c's time until the test ends
// (or stop is called) and serves its handler.
func startRole(t *testing.T, src Source, c *clock) (r *Role, srv *httptest.Server, stop func()) {
	t.Helper()
	view := globalview.New(globalview.Options{MinRegions: 2, StaleAfter: 30 * time.Second, Clock: c})
	r = New(src, Options{View: view, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		StreamCheck: 50 * time.Millisecond, Location: time.UTC, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	srv = httptest.NewServer(r.Handler())
	stop = sync.OnceFunc(func() { srv.Close(); cancel(); <-done })
	t.Cleanup(stop)
	return r, srv, stop
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

type featuresBody struct {
	Features []globalview.FeatureStatus `json:"features"`
	Regions  []string                   `json:"regions"`
	CaughtUp bool                       `json:"caught_up"`
}

func features(t *testing.T, srv *httptest.Server) featuresBody {
	t.Helper()
	code, body := get(t, srv.URL+"/api/v1/global/features")
	if code != 200 {
		t.Fatalf("features: %d %s", code, body)
	}
	var fb featuresBody
	if err := json.Unmarshal([]byte(body), &fb); err != nil {
		t.Fatal(err)
	}
	return fb
}

func waitReady(t *testing.T, r *Role) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, "the replay to catch up", r.Ready)
}

// regionsOf is "region=state ..." of a feature.
func regionsOf(f globalview.FeatureStatus) string {
	var parts []string
	for _, r := range f.Regions {
		parts = append(parts, r.Region+"="+r.State)
	}
	return strings.Join(parts, " ")
}

// TestRoleShowsConsensusOfRealAgents: three real agents publish with the
// real publisher; the role replays the stream and shows talk/send down
// (a and b agree), talk/drawer regional (only a), per region, in the API,
// on /metrics and on the page.
func TestRoleShowsConsensusOfRealAgents(t *testing.T) {
	src := testSource(t)
	c, _ := landscape(t, src)
	r, srv, _ := startRole(t, src, c)
	waitReady(t, r)

	fb := features(t, srv)
	if !fb.CaughtUp || strings.Join(fb.Regions, ",") != "a,b,c" {
		t.Errorf("caught_up %v, regions %v; want true, [a b c]", fb.CaughtUp, fb.Regions)
	}
	want := map[string]struct{ state, down, regions string }{
		"drawer": {globalview.StateRegional, "a", "a=down b=up c=up"},
		"send":   {globalview.StateDown, "a,b", "a=down b=down c=up"},
	}
	if len(fb.Features) != len(want) {
		t.Fatalf("%d features, want %d: %+v", len(fb.Features), len(want), fb.Features)
	}
	for _, f := range fb.Features {
		w := want[f.Feature]
		if f.State != w.state || strings.Join(f.RegionsDown, ",") != w.down || regionsOf(f) != w.regions {
			t.Errorf("talk/%s: %s, down in %v, regions %s; want %s, %s, %s", f.Feature, f.State, f.RegionsDown,
				regionsOf(f), w.state, w.down, w.regions)
		}
	}

	code, body := get(t, srv.URL+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	samples := parseMetrics(t, body)
	for series, want := range map[string]float64{
		`vigil_global_feature_state{feature="send",service="talk",state="down"}`:             1,
		`vigil_global_feature_state{feature="send",service="talk",state="up"}`:               0,
		`vigil_global_feature_state{feature="drawer",service="talk",state="regional"}`:       1,
		`vigil_global_feature_up{feature="send",service="talk"}`:                             0,
		`vigil_global_feature_up{feature="drawer",service="talk"}`:                           1,
		`vigil_global_feature_regions_down{feature="send",service="talk"}`:                   2,
		`vigil_global_feature_regions_down{feature="drawer",service="talk"}`:                 1,
		`vigil_global_region_state{feature="send",region="c",service="talk",state="up"}`:     1,
		`vigil_global_region_state{feature="drawer",region="a",service="talk",state="down"}`: 1,
		`vigil_global_region_state{feature="drawer",region="b",service="talk",state="down"}`: 0,
		`vigil_global_outage_active{feature="send",service="talk"}`:                          1,
		`vigil_global_outage_active{feature="drawer",service="talk"}`:                        0,
		`vigil_global_agent_last_heartbeat_timestamp_seconds{agent="a-0",region="a"}`:        float64(t0.Add(20 * time.Second).Unix()),
		`vigil_global_records_rejected_total{reason="malformed"}`:                            0,
		`vigil_global_replay_caught_up`:                                                      1,
		`vigil_global_sla_availability_ratio{feature="drawer",service="talk",window="1h"}`:   1,
		`vigil_global_sla_error_budget_remaining_ratio{feature="drawer",service="talk"}`:     1,
		`vigil_global_records_ingested_total`:                                                float64(streamMsgs(t, src)),
	} {
		if got, ok := samples[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if a := samples[`vigil_global_sla_availability_ratio{feature="send",service="talk",window="1h"}`]; !(a > 0 && a < 1) {
		t.Errorf("talk/send availability over 1h = %v, want between 0 and 1 (down 10s of 20s monitored)", a)
	}
	promtoolCheck(t, []byte(body))

	_, page := get(t, srv.URL+"/")
	for _, s := range []string{"<th>a</th><th>b</th><th>c</th>", "talk / send", `class="st st-down">Down<small>down in a, b</small>`,
		`class="st st-regional">Regional<small>down in a</small>`} {
		if !strings.Contains(page, s) {
			t.Errorf("status page lacks %q:\n%s", s, page)
		}
	}
	_, page = get(t, srv.URL+"/?lang=ko")
	if !strings.Contains(page, `lang="ko"`) || !strings.Contains(page, "일부 리전 장애<small>a 장애</small>") {
		t.Errorf("Korean status page:\n%s", page)
	}
	if code, _ := get(t, srv.URL+"/-/ready"); code != 200 {
		t.Errorf("/-/ready %d after the replay, want 200", code)
	}
}

func streamMsgs(t *testing.T, src Source) uint64 {
	t.Helper()
	s, err := jsConn(t, src).Stream(context.Background(), src.Stream)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.Msgs
}

// parseMetrics reads an exposition into series -> value.
func parseMetrics(t *testing.T, body string) map[string]float64 {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// promtoolCheck runs `promtool check metrics`; it must print nothing.
func promtoolCheck(t *testing.T, exposition []byte) {
	t.Helper()
	t.Run("promtool check metrics", func(t *testing.T) {
		cmd := exec.Command(testenv.NeedTool(t, "promtool", "prometheus"), "check", "metrics")
		cmd.Stdin = bytes.NewReader(exposition)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})
}

// TestSilentRegionShowsNoDataSince: region c's agent stops publishing;
// once it is stale, c does not monitor (unknown, never up) and the page
// says since when it has no data.
func TestSilentRegionShowsNoDataSince(t *testing.T) {
	src := testSource(t)
	c, agents := landscape(t, src)
	c.Set(t0.Add(60 * time.Second))
	for _, a := range agents[:2] {
		a.observe(t, c, "send")
		a.publish(t, src)
	}
	r, srv, _ := startRole(t, src, c)
	waitReady(t, r)
	for _, f := range features(t, srv).Features {
		cRegion := f.Regions[2]
		if cRegion.Region != "c" || cRegion.State != globalview.StateUnknown || cRegion.NoDataSince == nil ||
			!cRegion.NoDataSince.Equal(t0.Add(20*time.Second)) {
			t.Errorf("talk/%s in c: %+v, want unknown with no data since %s", f.Feature, cRegion, t0.Add(20*time.Second))
		}
	}
	_, page := get(t, srv.URL+"/")
	if want := "Unknown<small>no data since 2026-11-01 00:00:20 UTC</small>"; !strings.Contains(page, want) {
		t.Errorf("status page lacks %q:\n%s", want, page)
	}
	_, page = get(t, srv.URL+"/?lang=ko")
	if want := "알 수 없음<small>2026-11-01 00:00:20 UTC 이후 데이터 없음</small>"; !strings.Contains(page, want) {
		t.Errorf("Korean status page lacks %q:\n%s", want, page)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, what, cond)
}
