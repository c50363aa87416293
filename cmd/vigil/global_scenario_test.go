package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/vigil-monitoring/vigil/internal/globalview"
	"github.com/vigil-monitoring/vigil/internal/testenv"
)

// The scenario of issue 17 ("How it is tested"), time-compressed: checks
// every 200 ms. The agents' heartbeat period is fixed at 10 s
// (sla.maxHeartbeat), so stale_after cannot be shorter than that plus the
// publisher's latency: it is 13 s here, and the dead agents' phase waits
// for it.
const (
	scenarioInterval   = 200 * time.Millisecond
	scenarioStaleAfter = 13 * time.Second
	scenarioHeartbeat  = 10 * time.Second
)

// scenarioNATS is an embedded nats-server with JetStream on a fixed
// loopback port and store directory, so that it can be stopped and started
// again as the same server with the same stream.
type scenarioNATS struct {
	t    *testing.T
	port int
	dir  string
	s    *natsserver.Server
}

func (n *scenarioNATS) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// start runs the server; the first start skips the test (fails under
// CI=true) when nats-server cannot be embedded, a restart fails it.
func (n *scenarioNATS) start(first bool) {
	n.t.Helper()
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: n.port, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: n.dir})
	if err == nil {
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			s.Shutdown()
			err = fmt.Errorf("not ready on :%d after 10s", n.port)
		}
	}
	switch {
	case err != nil && first:
		testenv.Need(n.t, "embedded nats-server with JetStream: %v", err)
	case err != nil:
		n.t.Fatalf("nats-server restart on :%d: %v", n.port, err)
	}
	n.s = s
}

func (n *scenarioNATS) stop() {
	if n.s != nil {
		n.s.Shutdown()
		n.s.WaitForShutdown()
		n.s = nil
	}
}

// scenarioAgent is one real vigil agent process.
type scenarioAgent struct {
	id, region, addr string
	cmd              *exec.Cmd
}

// globalScenario is the running scenario: NATS, one scripted target per
// region, four agents (a-0, a-1, b-0, c-0) and the vigil global role.
type globalScenario struct {
	t       *testing.T
	nats    *scenarioNATS
	targets map[string]*scriptedTarget // by region
	agents  map[string]*scenarioAgent  // by agent id
	role    string                     // vigil global's address
}

// startScenarioProcess runs vigil with args (%s is the config file written
// to dir) and returns the process; it is killed when the test ends.
func startScenarioProcess(t *testing.T, dir, cfg string, args ...string) *exec.Cmd {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, a := range args {
		args[i] = strings.Replace(a, "%s", file, 1)
	}
	var stderr syncBuffer
	cmd := exec.Command(vigilBin, args...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("vigil %s:\n%s", strings.Join(args, " "), stderr.String())
		}
	})
	return cmd
}

func newGlobalScenario(t *testing.T) *globalScenario {
	_, port, _ := net.SplitHostPort(testenv.FreeAddr(t))
	p, _ := strconv.Atoi(port)
	s := &globalScenario{t: t, nats: &scenarioNATS{t: t, port: p, dir: t.TempDir()},
		targets: map[string]*scriptedTarget{}, agents: map[string]*scenarioAgent{}}
	s.nats.start(true)
	t.Cleanup(s.nats.stop)
	dir := t.TempDir()
	const stream, prefix = "VIGILSCENARIO", "vsc"
	for _, region := range []string{"a", "b", "c"} {
		target := newScriptedTarget()
		t.Cleanup(target.Close)
		s.targets[region] = target
	}
	for _, id := range []string{"a-0", "a-1", "b-0", "c-0"} {
		region, replica, _ := strings.Cut(id, "-")
		cfg := fmt.Sprintf(`agent: {region: %s, replica: "%s"}
global: {url: %q, stream: %s, subject_prefix: %s}
defaults: {interval: %s, timeout: 150ms, failure_threshold: 1, recovery_threshold: 1}
services:
  - name: talk
    features:
      - name: send
        checks: [{name: api, http: {url: %q}}]
`, region, replica, s.nats.url(), stream, prefix, scenarioInterval, s.targets[region].URL+"/health")
		ag := &scenarioAgent{id: id, region: region, addr: testenv.FreeAddr(t)}
		ag.cmd = startScenarioProcess(t, filepath.Join(dir, id), cfg, "--config.file=%s", "--web.listen-address="+ag.addr,
			"--storage.path="+filepath.Join(dir, id, "data"))
		s.agents[id] = ag
	}
	s.role = testenv.FreeAddr(t)
	startScenarioProcess(t, filepath.Join(dir, "global"), fmt.Sprintf(
		"nats: {url: %q, stream: %s, subject_prefix: %s}\nmin_regions: 2\nstale_after: %s\n",
		s.nats.url(), stream, prefix, scenarioStaleAfter), "global", "--config.file=%s", "--web.listen-address="+s.role)
	return s
}

// feature is the role's only feature now (ok false when it does not answer).
func (s *globalScenario) feature() (globalview.FeatureStatus, bool) {
	resp, err := http.Get("http://" + s.role + "/api/v1/global/features")
	if err != nil {
		return globalview.FeatureStatus{}, false
	}
	defer resp.Body.Close()
	var body struct {
		Features []globalview.FeatureStatus `json:"features"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil || len(body.Features) != 1 {
		return globalview.FeatureStatus{}, false
	}
	return body.Features[0], true
}

// waitFeature waits until the role's feature satisfies cond and returns it.
func (s *globalScenario) waitFeature(what string, limit time.Duration, cond func(globalview.FeatureStatus) bool) globalview.FeatureStatus {
	s.t.Helper()
	var f globalview.FeatureStatus
	testenv.WaitFor(s.t, limit, what, func() bool {
		var ok bool
		f, ok = s.feature()
		return ok && cond(f)
	})
	return f
}

func regionOf(f globalview.FeatureStatus, name string) globalview.RegionStatus {
	for _, r := range f.Regions {
		if r.Region == name {
			return r
		}
	}
	return globalview.RegionStatus{Region: name, State: "absent"}
}

// outages are the role's global outages, oldest first.
func (s *globalScenario) outages() ([]globalview.Outage, error) {
	resp, err := http.Get("http://" + s.role + "/api/v1/global/outages")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Outages []globalview.Outage `json:"outages"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	slices.SortFunc(body.Outages, func(x, y globalview.Outage) int { return x.Start.Compare(y.Start) })
	return body.Outages, err
}

// waitGlobalOutages waits until the role lists n global outages, the last
// one closed or open as wanted.
func (s *globalScenario) waitGlobalOutages(n int, lastClosed bool, what string) []globalview.Outage {
	s.t.Helper()
	var list []globalview.Outage
	testenv.WaitFor(s.t, 20*time.Second, what, func() bool {
		var err error
		list, err = s.outages()
		return err == nil && len(list) == n && (list[n-1].End != nil) == lastClosed
	})
	return list
}

// agentOutages waits until the agent lists n outages, the last one closed
// or open as wanted, and returns them oldest first.
func (s *globalScenario) agentOutages(id string, n int, lastClosed bool) []outageJSON {
	s.t.Helper()
	var list []outageJSON
	testenv.WaitFor(s.t, 10*time.Second, fmt.Sprintf("agent %s: %d outages, the last closed=%v", id, n, lastClosed), func() bool {
		var err error
		list, err = fetchOutages(s.agents[id].addr)
		slices.SortFunc(list, func(x, y outageJSON) int { return x.Start.Compare(y.Start) })
		return err == nil && len(list) == n && (list[n-1].End != nil) == lastClosed
	})
	return list
}

// lastHeartbeat is the agent's latest heartbeat as the role's /metrics
// gives it (float seconds).
func (s *globalScenario) lastHeartbeat(id string) time.Time {
	region, _, _ := strings.Cut(id, "-")
	body := scrape(s.role)
	prefix := fmt.Sprintf(`vigil_global_agent_last_heartbeat_timestamp_seconds{agent=%q,region=%q} `, id, region)
	for line := range strings.Lines(body) {
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				sec, frac := math.Modf(f)
				return time.Unix(int64(sec), int64(frac*1e9))
			}
		}
	}
	s.t.Fatalf("vigil global's /metrics has no heartbeat of %s", id)
	return time.Time{}
}

// nsSpan is [s, e) in Unix nanoseconds; a list of them is kept sorted and
// merged by the span functions below, the hand computation's arithmetic.
type nsSpan struct{ s, e int64 }

func mergeSpans(list []nsSpan) []nsSpan {
	list = slices.DeleteFunc(slices.Clone(list), func(x nsSpan) bool { return x.e <= x.s })
	slices.SortFunc(list, func(x, y nsSpan) int { return cmp.Compare(x.s, y.s) })
	var out []nsSpan
	for _, x := range list {
		if n := len(out); n > 0 && x.s <= out[n-1].e {
			out[n-1].e = max(out[n-1].e, x.e)
			continue
		}
		out = append(out, x)
	}
	return out
}

func unionSpans(lists ...[]nsSpan) []nsSpan { return mergeSpans(slices.Concat(lists...)) }

func intersectSpans(a, b []nsSpan) []nsSpan {
	var out []nsSpan
	for _, x := range mergeSpans(a) {
		for _, y := range mergeSpans(b) {
			if s, e := max(x.s, y.s), min(x.e, y.e); s < e {
				out = append(out, nsSpan{s, e})
			}
		}
	}
	return mergeSpans(out)
}

// subtractSpans is a without b.
func subtractSpans(a, b []nsSpan) []nsSpan {
	out := mergeSpans(a)
	for _, y := range mergeSpans(b) {
		var next []nsSpan
		for _, x := range out {
			if y.e <= x.s || x.e <= y.s {
				next = append(next, x)
				continue
			}
			next = append(next, nsSpan{x.s, y.s}, nsSpan{y.e, x.e})
		}
		out = mergeSpans(next)
	}
	return out
}

func spanSeconds(list []nsSpan) float64 {
	var total int64
	for _, x := range mergeSpans(list) {
		total += x.e - x.s
	}
	return float64(total) / 1e9
}

// downSpans are an agent's outages as spans (an open one to openEnd).
func downSpans(list []outageJSON, openEnd time.Time) []nsSpan {
	var out []nsSpan
	for _, o := range list {
		end := openEnd
		if o.End != nil {
			end = *o.End
		}
		out = append(out, nsSpan{o.Start.UnixNano(), end.UnixNano()})
	}
	return mergeSpans(out)
}

func fmtTime(t time.Time) string { return t.UTC().Format("15:04:05.000000") }

// TestGlobalScenarioThreeRegions is issue 17's scenario with real processes:
// regions a (replicas a-0 and a-1), b and c, each probing its own scripted
// loopback target, publish to an embedded NATS JetStream; vigil global
// (min_regions 2) reads them. Phases: a failing alone is regional, not
// global; a and b failing is a global outage whose edges are exactly the
// agents' own (the later start, the earlier end); kill -9 of c's agent
// makes only c "no data since" its last heartbeat, kill -9 of a-1 leaves
// region a monitored throughout; with NATS stopped a and b fail and
// recover again, the agents record it, their outboxes drain when NATS
// returns and the global outage has the agents' edges. The global report
// over the run equals a hand computation from the agents' outage edges.
func TestGlobalScenarioThreeRegions(t *testing.T) {
	if testing.Short() {
		t.Skip("the scenario takes about a minute (a dead agent goes stale only after its 10 s heartbeat)")
	}
	s := newGlobalScenario(t)
	s.waitFeature("talk/send up and monitored from a (2 replicas), b and c", 30*time.Second, func(f globalview.FeatureStatus) bool {
		for _, name := range []string{"a", "b", "c"} {
			if r := regionOf(f, name); !r.Monitored || r.State != globalview.StateUp {
				return false
			}
		}
		return f.State == globalview.StateUp && len(f.Regions) == 3 && regionOf(f, "a").Monitoring == 2
	})
	from := time.Now()
	s.regionalFromA()
	s.globalFromAAndB()
	record := map[string][]outageJSON{}
	for id, ag := range s.agents {
		list, err := fetchOutages(ag.addr)
		if err != nil {
			t.Fatalf("agent %s: %v", id, err)
		}
		record[id] = list
	}
	coverage := s.killCAndOneReplicaOfA()
	for id, list := range s.natsStopped() {
		record[id] = list
	}
	s.checkReport(from, record, coverage)
}

// regionalFromA: a's target fails; both replicas of a see it, so region a
// is down, and the feature is regional naming a, with no global outage.
func (s *globalScenario) regionalFromA() {
	t := s.t
	s.targets["a"].set(true)
	f := s.waitFeature("talk/send regional from a", 10*time.Second, func(f globalview.FeatureStatus) bool {
		return f.State == globalview.StateRegional && slices.Equal(f.RegionsDown, []string{"a"})
	})
	if f.Outage != nil || f.MinRegions != 2 || regionOf(f, "a").State != "down" || regionOf(f, "b").State != "up" ||
		regionOf(f, "c").State != "up" {
		t.Errorf("failing from a alone: %+v; want regional (min_regions 2), a down, b and c up, no global outage", f)
	}
	if list, err := s.outages(); err != nil || len(list) != 0 {
		t.Errorf("global outages while only a fails: %+v %v; want none", list, err)
	}
}

// globalFromAAndB: b's target fails too: a global outage starting exactly
// at the latest of the agents' outage starts (b's, one interval or less
// after b's first failing run). b recovers first: the global outage ends
// exactly at b's outage end.
func (s *globalScenario) globalFromAAndB() {
	t := s.t
	s.targets["b"].set(true)
	s.waitFeature("talk/send down from a and b", 10*time.Second, func(f globalview.FeatureStatus) bool {
		return f.State == globalview.StateDown && slices.Equal(f.RegionsDown, []string{"a", "b"})
	})
	a0, a1, b := s.agentOutages("a-0", 1, false)[0], s.agentOutages("a-1", 1, false)[0], s.agentOutages("b-0", 1, false)[0]
	g := s.waitGlobalOutages(1, false, "one open global outage")[0]
	latest := maxTime(a0.Start, a1.Start, b.Start)
	if !g.Start.Equal(latest) || !g.Start.Equal(b.Start) || !slices.Equal(g.Regions, []string{"a", "b"}) {
		t.Errorf("global outage starts %s regions %v; want exactly b's start %s (the latest: a-0 %s, a-1 %s), regions [a b]",
			fmtTime(g.Start), g.Regions, fmtTime(b.Start), fmtTime(a0.Start), fmtTime(a1.Start))
	}
	s.targets["b"].set(false)
	bEnd := *s.agentOutages("b-0", 1, true)[0].End
	s.waitFeature("talk/send regional again once b recovered", 10*time.Second, func(f globalview.FeatureStatus) bool {
		return f.State == globalview.StateRegional && slices.Equal(f.RegionsDown, []string{"a"})
	})
	s.targets["a"].set(false)
	a0, a1 = s.agentOutages("a-0", 1, true)[0], s.agentOutages("a-1", 1, true)[0]
	s.waitFeature("talk/send up again", 10*time.Second, func(f globalview.FeatureStatus) bool { return f.State == globalview.StateUp })
	g = s.waitGlobalOutages(1, true, "the global outage closed")[0]
	if !g.End.Equal(bEnd) || !bEnd.Before(*a0.End) || !bEnd.Before(*a1.End) {
		t.Errorf("global outage ends %s; want exactly b's end %s (before a-0's %s and a-1's %s)",
			fmtTime(*g.End), fmtTime(bEnd), fmtTime(*a0.End), fmtTime(*a1.End))
	}
}

func maxTime(first time.Time, rest ...time.Time) time.Time {
	for _, x := range rest {
		if x.After(first) {
			first = x
		}
	}
	return first
}

func minTime(first time.Time, rest ...time.Time) time.Time {
	for _, x := range rest {
		if x.Before(first) {
			first = x
		}
	}
	return first
}

// killCAndOneReplicaOfA: SIGKILL of c-0 and of a-1 (a-0 runs on). Sampled
// every 100 ms until c is stale and a-1 no longer counts: the global state
// stays up and region a stays monitored and up at every sample (no gap);
// c ends "no data since" its last heartbeat, not monitored. Returns the
// dead agents' coverage ends (their last heartbeats).
func (s *globalScenario) killCAndOneReplicaOfA() map[string]time.Time {
	t := s.t
	stop(s.agents["c-0"].cmd)
	killedC := time.Now()
	stop(s.agents["a-1"].cmd)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(scenarioHeartbeat + scenarioStaleAfter + 15*time.Second)
	var f globalview.FeatureStatus
	for samples := 0; ; samples++ {
		if now, ok := s.feature(); ok {
			f = now
			a, b := regionOf(f, "a"), regionOf(f, "b")
			if f.State != globalview.StateUp || !a.Monitored || a.State != "up" || a.NoDataSince != nil || !b.Monitored {
				t.Fatalf("sample %d after the kills: %+v; want up, a and b monitored", samples, f)
			}
			if regionOf(f, "c").NoDataSince != nil && a.Monitoring == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("c not stale or a-1 still monitoring %s after the kills: %+v", scenarioHeartbeat+scenarioStaleAfter+15*time.Second, f)
		}
		<-tick.C
	}
	c, a := regionOf(f, "c"), regionOf(f, "a")
	lastC := s.lastHeartbeat("c-0")
	if c.Monitored || c.State != globalview.StateUnknown || c.NoDataSince.Sub(lastC).Abs() > time.Millisecond ||
		c.NoDataSince.After(killedC) || killedC.Sub(*c.NoDataSince) > scenarioHeartbeat+2*time.Second {
		t.Errorf("region c after kill -9 at %s: %+v (no data since %v); want unknown, not monitored, no data since its last heartbeat %s",
			fmtTime(killedC), c, c.NoDataSince, fmtTime(lastC))
	}
	if !slices.Equal(a.Replicas, []string{"a-0", "a-1"}) {
		t.Errorf("region a replicas %v; want [a-0 a-1]", a.Replicas)
	}
	return map[string]time.Time{"c-0": lastC, "a-1": s.lastHeartbeat("a-1")}
}

// natsStopped: NATS stops; a and b fail and recover (b first) while it is
// down, and the agents record it (their own APIs) with records waiting in
// their outboxes. NATS starts again on the same port and store: the
// outboxes drain to 0 and the role shows a second global outage with
// exactly the agents' edges. Returns the live agents' outages.
func (s *globalScenario) natsStopped() map[string][]outageJSON {
	t := s.t
	s.nats.stop()
	stopped := time.Now()
	s.targets["a"].set(true)
	s.targets["b"].set(true)
	s.agentOutages("a-0", 2, false)
	s.agentOutages("b-0", 2, false)
	s.targets["b"].set(false)
	b := s.agentOutages("b-0", 2, true)
	s.targets["a"].set(false)
	a0 := s.agentOutages("a-0", 2, true)
	for _, id := range []string{"a-0", "b-0"} {
		if n := scrapeGauge(scrape(s.agents[id].addr), "vigil_global_outbox_pending"); n <= 0 {
			t.Errorf("agent %s: vigil_global_outbox_pending %v while NATS is down; want records waiting", id, n)
		}
	}
	// NATS stays down a few seconds (the 60 s, compressed): the
	// scenario's own length, not a wait for something.
	time.Sleep(time.Until(stopped.Add(3 * time.Second)))
	s.nats.start(false)
	for _, id := range []string{"a-0", "b-0"} {
		testenv.WaitFor(t, 40*time.Second, "agent "+id+"'s outbox drained", func() bool {
			return scrapeGauge(scrape(s.agents[id].addr), "vigil_global_outbox_pending") == 0
		})
	}
	g := s.waitGlobalOutages(2, true, "the second global outage, closed")[1]
	start, end := maxTime(a0[1].Start, b[1].Start), minTime(*a0[1].End, *b[1].End)
	if !g.Start.Equal(start) || !g.End.Equal(end) || !slices.Equal(g.Regions, []string{"a", "b"}) {
		t.Errorf("global outage while NATS was down: %s to %s regions %v; want %s to %s (a-0 %s-%s, b %s-%s), [a b]",
			fmtTime(g.Start), fmtTime(*g.End), g.Regions, fmtTime(start), fmtTime(end),
			fmtTime(a0[1].Start), fmtTime(*a0[1].End), fmtTime(b[1].Start), fmtTime(*b[1].End))
	}
	return map[string][]outageJSON{"a-0": a0, "b-0": b}
}

// scrapeGauge is the value of the first sample of name in body, with or
// without labels; -1 when absent.
func scrapeGauge(body, name string) float64 {
	for line := range strings.Lines(body) {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if i := strings.LastIndexByte(rest, ' '); i >= 0 {
			if v, err := strconv.ParseFloat(strings.TrimSpace(rest[i+1:]), 64); err == nil {
				return v
			}
		}
	}
	return -1
}

// checkReport compares the role's report over [from, now) with a hand
// computation from the agents' own outage edges: region a is down while
// both replicas are (a-0 alone after a-1's coverage ended), c's votes end at
// its coverage end, and with min_regions 2 (a and b always monitoring) the
// feature is down while two regions are, regional while one is.
func (s *globalScenario) checkReport(from time.Time, record map[string][]outageJSON, coverage map[string]time.Time) {
	t := s.t
	to := time.Now()
	end := to.UnixNano()
	upTo := func(at time.Time) []nsSpan { return []nsSpan{{math.MinInt64, at.UnixNano()}} }
	a0, a1 := downSpans(record["a-0"], to), intersectSpans(downSpans(record["a-1"], to), upTo(coverage["a-1"]))
	regionA := unionSpans(intersectSpans(a0, a1), subtractSpans(a0, upTo(coverage["a-1"])))
	regionB := downSpans(record["b-0"], to)
	regionC := intersectSpans(downSpans(record["c-0"], to), upTo(coverage["c-0"]))
	window := []nsSpan{{from.UnixNano(), end}}
	down := intersectSpans(window, unionSpans(intersectSpans(regionA, regionB), intersectSpans(regionA, regionC),
		intersectSpans(regionB, regionC)))
	regional := subtractSpans(intersectSpans(window, unionSpans(regionA, regionB, regionC)), down)

	q := url.Values{"from": {from.Format(time.RFC3339Nano)}, "to": {to.Format(time.RFC3339Nano)}}
	resp, err := http.Get("http://" + s.role + "/api/v1/global/report?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep globalview.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || len(rep.Features) != 1 {
		t.Fatalf("global report: %v %+v", err, rep)
	}
	got := rep.Features[0]
	slices.SortFunc(got.Outages, func(x, y globalview.Outage) int { return x.Start.Compare(y.Start) })
	if len(down) != 2 || len(got.Outages) != len(down) {
		t.Fatalf("hand computation %v, report outages %+v; want 2 of each", down, got.Outages)
	}
	for i, o := range got.Outages {
		if o.Start.UnixNano() != down[i].s || o.End == nil || o.End.UnixNano() != down[i].e {
			t.Errorf("report outage %d: %+v; want %s to %s", i, o, fmtTime(time.Unix(0, down[i].s)), fmtTime(time.Unix(0, down[i].e)))
		}
	}
	wantDown, wantRegional := spanSeconds(down), spanSeconds(regional)
	wantAvail := 1 - wantDown/to.Sub(from).Seconds()
	if math.Abs(got.DowntimeSeconds-wantDown) > 1e-6 || math.Abs(got.RegionalSeconds-wantRegional) > 1e-6 ||
		got.UnmonitoredSeconds != 0 || math.Abs(got.Availability-wantAvail) > 1e-9 ||
		!slices.Equal(rep.Regions, []string{"a", "b", "c"}) {
		t.Errorf("global report: downtime %.6f s, regional %.6f s, unmonitored %.6f s, availability %.9f, regions %v;\n"+
			"by hand: downtime %.6f s, regional %.6f s, unmonitored 0, availability %.9f, regions [a b c]",
			got.DowntimeSeconds, got.RegionalSeconds, got.UnmonitoredSeconds, got.Availability, rep.Regions,
			wantDown, wantRegional, wantAvail)
	}
	t.Logf("global report over %s: downtime %.6f s, regional %.6f s (by hand %.6f, %.6f)",
		to.Sub(from).Round(time.Millisecond), got.DowntimeSeconds, got.RegionalSeconds, wantDown, wantRegional)
}
