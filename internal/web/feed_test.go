package web

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

// parsedFeed is an Atom document as encoding/xml reads it, namespace
// checked: elements outside the Atom namespace do not fill it.
type parsedFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"http://www.w3.org/2005/Atom id"`
	Title   string   `xml:"http://www.w3.org/2005/Atom title"`
	Updated string   `xml:"http://www.w3.org/2005/Atom updated"`
	Author  struct {
		Name string `xml:"http://www.w3.org/2005/Atom name"`
	} `xml:"http://www.w3.org/2005/Atom author"`
	Links []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"http://www.w3.org/2005/Atom link"`
	Entries []struct {
		ID         string `xml:"http://www.w3.org/2005/Atom id"`
		Title      string `xml:"http://www.w3.org/2005/Atom title"`
		Updated    string `xml:"http://www.w3.org/2005/Atom updated"`
		Content    string `xml:"http://www.w3.org/2005/Atom content"`
		Categories []struct {
			Term string `xml:"term,attr"`
		} `xml:"http://www.w3.org/2005/Atom category"`
	} `xml:"http://www.w3.org/2005/Atom entry"`
}

// readFeed gets and parses a feed, checking what RFC 4287 requires: the
// feed's id, title, updated and author (or every entry's), a self link,
// and each entry's id, title and updated, times in RFC 3339, ids unique.
func readFeed(t *testing.T, s *Server, path string) parsedFeed {
	t.Helper()
	resp, body := get(t, s, path)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/atom+xml; charset=utf-8" {
		t.Fatalf("GET %s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.HasPrefix(body, `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("GET %s: no XML declaration", path)
	}
	var f parsedFeed
	if err := xml.Unmarshal([]byte(body), &f); err != nil {
		t.Fatalf("GET %s: not XML: %v\n%s", path, err, body)
	}
	if f.ID == "" || f.Title == "" || f.Author.Name == "" {
		t.Errorf("feed id %q title %q author %q: all required", f.ID, f.Title, f.Author.Name)
	}
	if _, err := time.Parse(time.RFC3339, f.Updated); err != nil {
		t.Errorf("feed updated %q: %v", f.Updated, err)
	}
	self := false
	for _, l := range f.Links {
		self = self || (l.Rel == "self" && strings.HasPrefix(l.Href, "http://"))
	}
	if !self {
		t.Errorf("no absolute self link: %+v", f.Links)
	}
	ids := map[string]bool{}
	for _, e := range f.Entries {
		if e.ID == "" || e.Title == "" || !strings.HasPrefix(e.ID, "urn:vigil:kr-central-1:") {
			t.Errorf("entry id %q title %q", e.ID, e.Title)
		}
		if ids[e.ID] {
			t.Errorf("entry id %q twice", e.ID)
		}
		ids[e.ID] = true
		if _, err := time.Parse(time.RFC3339, e.Updated); err != nil {
			t.Errorf("entry %s updated %q: %v", e.ID, e.Updated, err)
		}
	}
	return f
}

func TestFeed(t *testing.T) {
	s := publicServer(t, fireConfig)
	f := readFeed(t, s, "/feed.atom")
	if f.Title != "Vigil — status (kr-central-1)" || f.ID != "urn:vigil:kr-central-1:feed" {
		t.Errorf("feed %q %q", f.ID, f.Title)
	}
	byTitle := map[string]string{}
	var titles []string
	for _, e := range f.Entries {
		byTitle[e.Title] = e.Content
		titles = append(titles, e.Title)
	}
	// Newest first: the maintenance at 16:00 and the fire's incident
	// (updated 16:05 by its last update) lead.
	wantTitles := []string{
		"Data center pangyo: 3 features down, 1 recovering since 15:33",
		"Maintenance: Kakao Pay — Online / offline payment, 15 Oct 16:00–17:00",
		"Data center busan: 14 Oct 10:00–10:20 (Resolved)",
		"KakaoTalk — Messages: send / receive: down 12 Oct 02:00–03:00 (Resolved)",
		"다음 — News: down 2 Oct 11:00–11:10 (Resolved)",
	}
	if strings.Join(titles, "\n") != strings.Join(wantTitles, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(titles, "\n"), strings.Join(wantTitles, "\n"))
	}
	content := byTitle[wantTitles[0]]
	for _, w := range []string{"15 Oct 16:05, Identified: Power is being restored to the pangyo site.",
		"15 Oct 15:45, Investigating: We are looking into failures", "Affected features (4):", "- KakaoTalk — Chat rooms: Talk drawer: Recovering"} {
		if !strings.Contains(content, w) {
			t.Errorf("incident entry lacks %q:\n%s", w, content)
		}
	}
	for _, e := range f.Entries {
		for _, bad := range internalText {
			if strings.Contains(e.Title+e.Content, bad) {
				t.Errorf("entry %s shows %q", e.ID, bad)
			}
		}
	}

	// The IDs stay as time goes on and states change.
	again := readFeed(t, s, "/feed.atom?lang=ko")
	if len(again.Entries) != len(f.Entries) {
		t.Fatalf("%d entries in Korean, %d in English", len(again.Entries), len(f.Entries))
	}
	for i := range f.Entries {
		if again.Entries[i].ID != f.Entries[i].ID {
			t.Errorf("entry %d: id %q, then %q", i, f.Entries[i].ID, again.Entries[i].ID)
		}
	}
	if again.Entries[0].Title != "데이터센터 pangyo: 기능 3개 장애, 1개 복구 중 (15:33부터)" {
		t.Errorf("Korean entry %q", again.Entries[0].Title)
	}
}

func TestServiceFeed(t *testing.T) {
	s := publicServer(t, fireConfig)
	for _, path := range []string{"/services/pay/feed.atom", "/feed.atom?service=pay"} {
		f := readFeed(t, s, path)
		if f.ID != "urn:vigil:kr-central-1:feed:pay" || !strings.HasPrefix(f.Title, "Status of Kakao Pay") {
			t.Errorf("%s: feed %q %q", path, f.ID, f.Title)
		}
		if len(f.Entries) != 1 || f.Entries[0].ID != "urn:vigil:kr-central-1:maintenance:pay/payment/1665817200" {
			t.Errorf("%s: entries %+v, want the payment maintenance alone", path, f.Entries)
		}
	}
	f := readFeed(t, s, "/services/talk/feed.atom")
	var ids []string
	for _, e := range f.Entries {
		ids = append(ids, e.ID)
	}
	// The fire, busan's incident (chat rooms were in it) and the 12 Oct
	// outage of messages; not the news outage nor the maintenance of pay.
	if len(ids) != 3 || !strings.Contains(ids[2], ":outage:talk/message/") {
		t.Errorf("talk feed entries %v", ids)
	}
	resp, body := get(t, s, "/services/nosuch/feed.atom")
	if resp.StatusCode != 404 || !strings.Contains(body, `service \"nosuch\" is not configured`) {
		t.Errorf("unknown service: %d %s", resp.StatusCode, body)
	}
}

// TestFeedManualIncident: an incident an operator opened is in the feed
// with its updates, newest first, and in its service's feed only.
func TestFeedManualIncident(t *testing.T) {
	s := publicServer(t, fireConfig)
	s.opts.ManualIncidents = func() []ManualIncident {
		return []ManualIncident{{ID: "m-20221015T071000Z-ab12", Title: map[string]string{"en": "Slow payments", "ko": "결제 지연"},
			Affected: []string{"pay/payment"}, Status: "monitoring", Start: kst(0, 16, 10),
			Updates: []IncidentUpdate{
				{Time: kst(0, 16, 10), Status: "investigating", Message: map[string]string{"en": "Some payments are slow."}},
				{Time: kst(0, 16, 20), Status: "monitoring", Message: map[string]string{"en": "A fix is out; watching."}},
			}}}
	}
	f := readFeed(t, s, "/feed.atom")
	var entry *struct{ title, content, updated string }
	for _, e := range f.Entries {
		if e.ID == "urn:vigil:kr-central-1:incident:m-20221015T071000Z-ab12" {
			entry = &struct{ title, content, updated string }{e.Title, e.Content, e.Updated}
		}
	}
	if entry == nil {
		t.Fatalf("no manual incident entry in %+v", f.Entries)
	}
	want := "15 Oct 16:20, Monitoring: A fix is out; watching.\n15 Oct 16:10, Investigating: Some payments are slow.\n\nAffected features (1):\n- Kakao Pay — Online / offline payment\n"
	if entry.title != "Slow payments" || entry.content != want || entry.updated != "2022-10-15T07:20:00Z" {
		t.Errorf("manual entry %q updated %s:\n%s\nwant content:\n%s", entry.title, entry.updated, entry.content, want)
	}
	if f.Entries[0].Title != "Slow payments" {
		t.Errorf("first entry %q, want the manual incident (updated last)", f.Entries[0].Title)
	}
	if ko := readFeed(t, s, "/feed.atom?lang=ko"); ko.Entries[0].Title != "결제 지연" {
		t.Errorf("Korean title %q", ko.Entries[0].Title)
	}
	if pay := readFeed(t, s, "/services/pay/feed.atom"); len(pay.Entries) != 2 {
		t.Errorf("pay feed: %d entries, want the maintenance and the manual incident", len(pay.Entries))
	}
	for _, e := range readFeed(t, s, "/services/talk/feed.atom").Entries {
		if strings.Contains(e.ID, "m-20221015T071000Z-ab12") {
			t.Errorf("talk's feed has pay's manual incident")
		}
	}
}
