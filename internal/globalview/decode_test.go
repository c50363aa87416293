package globalview

import (
	"errors"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	const hb = `{"v":1,"seq":7,"agent":"a1","region":"a","at":"2026-03-01T00:00:10.5Z","type":"heartbeat","features":3,"vantage_up":true}`
	r, err := Decode([]byte(hb))
	if err != nil {
		t.Fatal(err)
	}
	if r.Seq != 7 || r.Agent != "a1" || r.Region != "a" || !r.At.Equal(at(10).Add(500*time.Millisecond)) ||
		r.Type != TypeHeartbeat || r.Features != 3 || !r.VantageUp || r.Final {
		t.Errorf("decoded %+v", r)
	}
	const out = `{"v":1,"seq":8,"agent":"a1","region":"a","at":"2026-03-01T00:01:00Z","type":"outage","service":"shop",` +
		`"feature":"checkout","id":4,"start":"2026-03-01T00:00:40Z","end":null,"cause":{"check":"api","error":"503"},"checks_failed":["api"],"new_field":1}`
	r, err = Decode([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != 4 || !r.Start.Equal(at(40)) || r.End != nil || r.Cause.Check != "api" || r.Cause.Error != "503" || r.Service != "shop" {
		t.Errorf("decoded %+v", r)
	}
	const maint = `{"v":1,"seq":9,"agent":"a1","region":"a","at":"2026-03-01T00:01:00Z","type":"maintenance","service":"shop",` +
		`"feature":"checkout","since":"2026-03-01T00:01:40Z","windows":[{"start":"2026-03-01T00:01:40Z","end":"2026-03-01T00:02:40Z"}]}`
	r, err = Decode([]byte(maint))
	if err != nil {
		t.Fatal(err)
	}
	if r.Type != TypeMaintenance || !r.Since.Equal(at(100)) || len(r.Windows) != 1 ||
		!r.Windows[0].Start.Equal(at(100)) || !r.Windows[0].End.Equal(at(160)) {
		t.Errorf("decoded %+v", r)
	}
}

func TestDecodeRejections(t *testing.T) {
	const head = `"seq":1,"agent":"a1","region":"a","at":"2026-03-01T00:00:00Z"`
	cases := []struct {
		name, data    string
		reason, field string
	}{
		{"not JSON", `{"v":1,`, RejectMalformed, ""},
		{"not an object", `[1]`, RejectMalformed, ""},
		{"wrong type of field", `{"v":1,` + head + `,"type":"heartbeat","vantage_up":"yes"}`, RejectMalformed, "vantage_up"},
		{"bad time", `{"v":1,"seq":1,"agent":"a1","region":"a","at":"yesterday","type":"gap"}`, RejectMalformed, ""},
		{"trailing data", `{"v":1,` + head + `,"type":"heartbeat","vantage_up":true} {}`, RejectMalformed, ""},
		{"end before start", `{"v":1,` + head + `,"type":"gap","start":"2026-03-01T00:00:00Z","end":"2026-02-01T00:00:00Z"}`, RejectMalformed, "end"},
		{"version 2", `{"v":2,` + head + `,"type":"heartbeat","vantage_up":true}`, RejectVersion, "v"},
		{"no version", `{` + head + `,"type":"heartbeat","vantage_up":true}`, RejectMissing, "v"},
		{"unknown type", `{"v":1,` + head + `,"type":"weather"}`, RejectType, "type"},
		{"no type", `{"v":1,` + head + `}`, RejectMissing, "type"},
		{"no seq", `{"v":1,"agent":"a1","region":"a","at":"2026-03-01T00:00:00Z","type":"heartbeat","vantage_up":true}`, RejectMissing, "seq"},
		{"no agent", `{"v":1,"seq":1,"region":"a","at":"2026-03-01T00:00:00Z","type":"heartbeat","vantage_up":true}`, RejectMissing, "agent"},
		{"no region", `{"v":1,"seq":1,"agent":"a1","at":"2026-03-01T00:00:00Z","type":"heartbeat","vantage_up":true}`, RejectMissing, "region"},
		{"no at", `{"v":1,"seq":1,"agent":"a1","region":"a","type":"heartbeat","vantage_up":true}`, RejectMissing, "at"},
		{"heartbeat without vantage_up", `{"v":1,` + head + `,"type":"heartbeat"}`, RejectMissing, "vantage_up"},
		{"outage without service", `{"v":1,` + head + `,"type":"outage","feature":"f","id":1,"start":"2026-03-01T00:00:00Z"}`, RejectMissing, "service"},
		{"outage without feature", `{"v":1,` + head + `,"type":"outage","service":"s","id":1,"start":"2026-03-01T00:00:00Z"}`, RejectMissing, "feature"},
		{"outage without id", `{"v":1,` + head + `,"type":"outage","service":"s","feature":"f","start":"2026-03-01T00:00:00Z"}`, RejectMissing, "id"},
		{"outage without start", `{"v":1,` + head + `,"type":"outage","service":"s","feature":"f","id":1}`, RejectMissing, "start"},
		{"degraded without start", `{"v":1,` + head + `,"type":"degraded","service":"s","feature":"f"}`, RejectMissing, "start"},
		{"presence without start", `{"v":1,` + head + `,"type":"presence","service":"s","feature":"f"}`, RejectMissing, "start"},
		{"gap without start", `{"v":1,` + head + `,"type":"gap"}`, RejectMissing, "start"},
		{"transition without from", `{"v":1,` + head + `,"type":"transition","service":"s","feature":"f","to":"down"}`, RejectMissing, "from"},
		{"maintenance without since", `{"v":1,` + head + `,"type":"maintenance","service":"s","feature":"f","windows":[]}`, RejectMissing, "since"},
		{"maintenance window backwards", `{"v":1,` + head + `,"type":"maintenance","service":"s","feature":"f","since":"2026-03-01T00:00:00Z",` +
			`"windows":[{"start":"2026-03-01T00:10:00Z","end":"2026-03-01T00:05:00Z"}]}`, RejectMalformed, "windows[0]"},
		{"transition without to", `{"v":1,` + head + `,"type":"transition","service":"s","feature":"f","from":"up"}`, RejectMissing, "to"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.data))
			var rej *Rejection
			if !errors.As(err, &rej) {
				t.Fatalf("error %v, want a *Rejection", err)
			}
			if rej.Reason != tc.reason || rej.Field != tc.field || RejectionReason(err) != tc.reason {
				t.Errorf("rejection %q field %q (%v), want %q field %q", rej.Reason, rej.Field, err, tc.reason, tc.field)
			}
		})
	}
}

func TestIngestDuplicates(t *testing.T) {
	v := New(Options{Clock: &fakeClock{now: at(100)}})
	rec := func(agent string, seq uint64) Record {
		return Record{V: 1, Seq: seq, Agent: agent, Region: "a", At: at(int(seq)), Type: TypeHeartbeat, VantageUp: true}
	}
	steps := []struct {
		rec  Record
		want string // rejection reason, "" accepted
	}{
		{rec("a1", 5), ""},
		{rec("a1", 3), ""}, // earlier, out of order: new
		{rec("a1", 5), RejectDuplicate},
		{rec("a2", 5), ""}, // another agent's seq 5
		{rec("a1", 4), ""},
		{rec("a1", 3), RejectDuplicate},
		{Record{V: 3, Seq: 9, Agent: "a1", Region: "a", At: at(1), Type: TypeHeartbeat}, RejectVersion},
	}
	for i, s := range steps {
		if got := RejectionReason(v.Ingest(s.rec)); got != s.want {
			t.Errorf("step %d (%s seq %d): rejection %q, want %q", i, s.rec.Agent, s.rec.Seq, got, s.want)
		}
	}
	// Past the dedupe window, the set stays bounded and still dedupes.
	for seq := uint64(1000); seq < 1000+3*seqWindow; seq++ {
		if err := v.Ingest(rec("a3", seq)); err != nil {
			t.Fatal(err)
		}
	}
	a3 := v.agents["a3"]
	if len(a3.seen.above) > 2*seqWindow {
		t.Errorf("dedupe set holds %d seqs", len(a3.seen.above))
	}
	for _, seq := range []uint64{1000, 1000 + 2*seqWindow, 1000 + 3*seqWindow - 1} {
		if got := RejectionReason(v.Ingest(rec("a3", seq))); got != RejectDuplicate {
			t.Errorf("seq %d again: %q, want duplicate", seq, got)
		}
	}
	if err := v.Ingest(rec("a3", 1000+3*seqWindow)); err != nil {
		t.Errorf("next seq: %v", err)
	}
}
