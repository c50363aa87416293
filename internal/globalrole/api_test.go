package globalrole

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/vigil-monitoring/vigil/internal/globalview"
)

// TestOutagesAndReportEndpoints: the global outage of the landscape is
// served with its regions and filtered by service, feature and time; the
// report covers the range asked; bad times are a 400 naming the value.
func TestOutagesAndReportEndpoints(t *testing.T) {
	src := testSource(t)
	c, _ := landscape(t, src)
	r, srv, _ := startRole(t, src, c)
	waitReady(t, r)
	outageStart := t0.Add(10 * time.Second)
	for _, tc := range []struct {
		query string
		want  string // "feature@start regions" per outage
	}{
		{"", "send@" + outageStart.Format(time.RFC3339) + " a,b"},
		{"?service=talk&feature=send", "send@" + outageStart.Format(time.RFC3339) + " a,b"},
		{"?feature=drawer", ""},
		{"?until=" + t0.Add(5*time.Second).Format(time.RFC3339), ""},
		{"?since=" + url.QueryEscape(t0.Add(15*time.Second).Format(time.RFC3339)), "send@" + outageStart.Format(time.RFC3339) + " a,b"},
	} {
		code, body := get(t, srv.URL+"/api/v1/global/outages"+tc.query)
		var got struct{ Outages []globalview.Outage }
		if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
			t.Fatalf("outages%s: %d %v %s", tc.query, code, err, body)
		}
		var parts []string
		for _, o := range got.Outages {
			parts = append(parts, fmt.Sprintf("%s@%s %s", o.Feature, o.Start.Format(time.RFC3339), strings.Join(o.Regions, ",")))
		}
		if s := strings.Join(parts, "; "); s != tc.want {
			t.Errorf("outages%s: %q, want %q", tc.query, s, tc.want)
		}
	}
	code, body := get(t, srv.URL+"/api/v1/global/report?from="+url.QueryEscape(t0.Format(time.RFC3339))+
		"&to="+url.QueryEscape(t0.Add(20*time.Second).Format(time.RFC3339)))
	var rep globalview.Report
	if err := json.Unmarshal([]byte(body), &rep); code != 200 || err != nil {
		t.Fatalf("report: %d %v %s", code, err, body)
	}
	if !rep.From.Equal(t0) || !rep.To.Equal(t0.Add(20*time.Second)) || len(rep.Features) != 2 {
		t.Fatalf("report: %s", body)
	}
	for _, f := range rep.Features {
		if want := map[string]float64{"send": 10, "drawer": 0}[f.Feature]; f.DowntimeSeconds != want {
			t.Errorf("report talk/%s: downtime %vs, want %vs", f.Feature, f.DowntimeSeconds, want)
		}
	}
	for _, q := range []string{"/api/v1/global/outages?since=NaN", "/api/v1/global/outages?until=12abc", "/api/v1/global/report?from=1e300"} {
		if code, body := get(t, srv.URL+q); code != 400 || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s, want 400 with an error", q, code, body)
		}
	}
}

// TestFollowsThroughANATSRestart: the role follows an embedded nats-server
// that is stopped and started again; it serves the last view meanwhile,
// and reads what is published after the restart, nothing twice.
func TestFollowsThroughANATSRestart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	var ns *natsserver.Server
	start := func() {
		s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
			NoLog: true, NoSigs: true})
		if err != nil {
			t.Fatal(err)
		}
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatal("embedded nats-server not ready")
		}
		ns = s
	}
	stopServer := func() { ns.Shutdown(); ns.WaitForShutdown() }
	start()
	t.Cleanup(func() { stopServer() })
	src := Source{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), Stream: "VIGIL", SubjectPrefix: "vigil"}
	c := &clock{t: t0}
	a := newAgent(t, "a", c)
	a.observe(t, c)
	a.publish(t, src)
	r, srv, _ := startRole(t, src, c)
	waitReady(t, r)

	stopServer()
	if fb := features(t, srv); len(fb.Features) != 2 {
		t.Errorf("while NATS is down: %d features, want the last view's 2", len(fb.Features))
	}
	start()
	c.Set(t0.Add(10 * time.Second))
	a.observe(t, c, "send")
	a.publish(t, src)
	c.Set(t0.Add(15 * time.Second))
	want := streamMsgs(t, src)
	waitFor(t, "the records published after the restart", func() bool { return r.st.ingested.Load() == want })
	_, body := get(t, srv.URL+"/metrics")
	if s := parseMetrics(t, body); s[`vigil_global_records_rejected_total{reason="duplicate"}`] != 0 ||
		s[`vigil_global_region_state{feature="send",region="a",service="talk",state="down"}`] != 1 {
		t.Errorf("after the restart: duplicates %v, send down in a %v; want 0 and 1",
			s[`vigil_global_records_rejected_total{reason="duplicate"}`],
			s[`vigil_global_region_state{feature="send",region="a",service="talk",state="down"}`])
	}
}
