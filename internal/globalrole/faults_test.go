package globalrole

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-monitoring/vigil/internal/globalview"
	"github.com/vigil-monitoring/vigil/internal/testenv"
)

// publishRaw puts data on the stream under subject (the stream exists).
func publishRaw(t *testing.T, js jetstream.JetStream, subject, data string) {
	t.Helper()
	if _, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: subject, Data: []byte(data)}); err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
}

// hbRecord is a hand-built heartbeat record of agent x-0 in region x.
func hbRecord(seq int, at time.Time) string {
	return fmt.Sprintf(`{"v":1,"seq":%d,"agent":"x-0","region":"x","at":%q,"type":"heartbeat","features":1,"vantage_up":true}`,
		seq, at.Format(time.RFC3339Nano))
}

// TestForeignMessagesAreCountedAndSkipped: malformed, foreign-version,
// unknown-type and repeated records are counted by reason and skipped;
// the records around them are ingested.
func TestForeignMessagesAreCountedAndSkipped(t *testing.T) {
	src := testSource(t)
	c, _ := landscape(t, src) // creates the stream
	js := jsConn(t, src)
	subj := src.SubjectPrefix + ".x.x-0._agent.heartbeat"
	publishRaw(t, js, subj, "not json")
	publishRaw(t, js, subj, strings.Replace(hbRecord(1, c.Now()), `"v":1`, `"v":2`, 1))
	publishRaw(t, js, subj, strings.Replace(hbRecord(2, c.Now()), `"heartbeat"`, `"horoscope"`, 1))
	publishRaw(t, js, subj, hbRecord(3, c.Now()))
	publishRaw(t, js, subj, hbRecord(3, c.Now())) // the same record again: a consumer dedupes by agent and seq
	publishRaw(t, js, subj, hbRecord(4, c.Now()))
	stored := streamMsgs(t, src)

	r, srv, _ := startRole(t, src, c)
	waitReady(t, r)
	_, body := get(t, srv.URL+"/metrics")
	samples := parseMetrics(t, body)
	for series, want := range map[string]float64{
		`vigil_global_records_rejected_total{reason="malformed"}`:                     1,
		`vigil_global_records_rejected_total{reason="version"}`:                       1,
		`vigil_global_records_rejected_total{reason="type"}`:                          1,
		`vigil_global_records_rejected_total{reason="duplicate"}`:                     1,
		`vigil_global_records_rejected_total{reason="missing"}`:                       0,
		`vigil_global_records_ingested_total`:                                         float64(stored - 4),
		`vigil_global_stream_last_sequence`:                                           float64(stored),
		`vigil_global_agent_last_heartbeat_timestamp_seconds{agent="x-0",region="x"}`: float64(c.Now().Unix()),
	} {
		if got, ok := samples[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if fb := features(t, srv); strings.Join(fb.Regions, ",") != "a,b,c,x" {
		t.Errorf("regions %v, want a b c and x (its good records ingested)", fb.Regions)
	}
}

// TestRestartReplaysToTheSameView: a second role started on the same
// stream (a restart, or a replica side by side) shows the same view, and
// records published after the replay are followed live by both.
func TestRestartReplaysToTheSameView(t *testing.T) {
	src := testSource(t)
	c, _ := landscape(t, src)
	r1, srv1, stop1 := startRole(t, src, c)
	waitReady(t, r1)
	first := features(t, srv1)
	stop1()

	r2, srv2, _ := startRole(t, src, c)
	waitReady(t, r2)
	if again := features(t, srv2); !reflect.DeepEqual(first, again) {
		t.Errorf("after a restart the view differs:\n%+v\nwant\n%+v", again, first)
	}
	r3, srv3, _ := startRole(t, src, c)
	waitReady(t, r3)

	// Live: region c's agent x-0 appears; both running roles follow.
	publishRaw(t, jsConn(t, src), src.SubjectPrefix+".x.x-0._agent.heartbeat", hbRecord(1, c.Now()))
	for _, srv := range []string{srv2.URL, srv3.URL} {
		testenv.WaitFor(t, 10*time.Second, "a live record in "+srv, func() bool {
			_, body := get(t, srv+"/metrics")
			return strings.Contains(body, `vigil_global_agent_last_heartbeat_timestamp_seconds{agent="x-0",region="x"}`)
		})
	}
	b2, _ := json.Marshal(features(t, srv2))
	b3, _ := json.Marshal(features(t, srv3))
	if string(b2) != string(b3) {
		t.Errorf("two roles side by side disagree:\n%s\n%s", b2, b3)
	}
}

// TestWaitsForTheStream: with no stream the role is not ready and serves
// an empty view; once an agent creates it and publishes, the role reads
// it and becomes ready.
func TestWaitsForTheStream(t *testing.T) {
	src := testSource(t)
	c := &clock{t: t0}
	r, srv, _ := startRole(t, src, c)
	if code, body := get(t, srv.URL+"/-/ready"); code != 503 || !strings.Contains(body, "not caught up") {
		t.Errorf("/-/ready with no stream: %d %q, want 503 saying the replay has not caught up", code, body)
	}
	if fb := features(t, srv); len(fb.Features) != 0 || fb.CaughtUp {
		t.Errorf("features with no stream: %+v, want none, not caught up", fb)
	}
	a := newAgent(t, "a", c)
	a.observe(t, c)
	c.Set(t0.Add(10 * time.Second))
	a.observe(t, c)
	a.publish(t, src)
	waitReady(t, r)
	if fb := features(t, srv); len(fb.Features) != 2 || fb.Features[0].Regions[0].State != globalview.StateUp {
		t.Errorf("features once the stream exists: %+v, want 2 up in a", fb.Features)
	}
}

// TestReplayForTheReport: Replay reads the stream once, to its end, and
// the view then holds the landscape for a report.
func TestReplayForTheReport(t *testing.T) {
	src := testSource(t)
	c, _ := landscape(t, src)
	view := globalview.New(globalview.Options{MinRegions: 2, Clock: c})
	stats, err := Replay(context.Background(), src, view, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, src); stats.Ingested != n || stats.LastSeq != n || len(stats.Rejected) != 0 {
		t.Errorf("replay: %+v, want %d ingested to seq %d, none rejected", stats, n, n)
	}
	rep := view.Report(t0, c.Now())
	var b strings.Builder
	if err := WriteReportMarkdown(&b, rep); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"regions: a, b, c", "| talk | send | 99.9% |", "| talk | drawer | 99.9% | 100% | yes | 0s | 10s | 0s | 0s | 0 |",
		"## talk / drawer\n\n| region | availability | down | degraded | maintenance | unmonitored |\n|---|---|---|---|---|---|\n" +
			"| a | 50% | 10s | 0s | 0s | 0s |\n| b | 100% | 0s | 0s | 0s | 0s |\n| c | 100% | 0s | 0s | 0s | 0s |\n"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, b.String())

		}
	}
}

// TestStreamDeletedAndRecreated: the stream is deleted under the running
// role and an agent creates it again; the role keeps the view it had,
// then reads the new stream from its start.
func TestStreamDeletedAndRecreated(t *testing.T) {
	src := testSource(t)
	c, agents := landscape(t, src)
	r, srv, _ := startRole(t, src, c)
	waitReady(t, r)
	before := r.st.ingested.Load()
	deleteStream(t, src)
	if fb := features(t, srv); len(fb.Features) != 2 {
		t.Errorf("after the stream was deleted: %d features, want the last view's 2", len(fb.Features))
	}
	c.Set(t0.Add(30 * time.Second))
	agents[2].observe(t, c, "drawer")
	agents[2].publish(t, src) // creates the stream again
	n := streamMsgs(t, src)
	waitFor(t, "the recreated stream's records", func() bool { return r.st.ingested.Load() == before+n })
	c.Set(t0.Add(35 * time.Second))
	for _, f := range features(t, srv).Features {
		if f.Feature == "drawer" && regionsOf(f) != "a=down b=up c=down" {
			t.Errorf("talk/drawer after the new stream: %s, want c down too", regionsOf(f))
		}
	}
}
