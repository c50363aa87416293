package web

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestFeaturesPages: ?limit=&after= walks /api/v1/features in pages that
// together are the whole list, in order, each naming the next; bad
// parameters are a 400 naming the parameter.
func TestFeaturesPages(t *testing.T) {
	s := fireServer(t)
	type page struct {
		Features []struct{ Service, Feature string } `json:"features"`
		Next     string                              `json:"next"`
		Vantage  any                                 `json:"vantage"`
	}
	read := func(path string) page {
		t.Helper()
		resp, body := get(t, s, path)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		var p page
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	all := read("/api/v1/features")
	if len(all.Features) != 9 || all.Next != "" {
		t.Fatalf("unpaged: %d features, next %q; want 9 and none", len(all.Features), all.Next)
	}
	var walked []string
	var nexts []string
	path := "/api/v1/features?limit=4"
	for range 10 { // bounded: 9 features in pages of 4 are 3 pages
		p := read(path)
		if p.Vantage == nil {
			t.Errorf("%s: no vantage", path)
		}
		for _, f := range p.Features {
			walked = append(walked, f.Service+"/"+f.Feature)
		}
		if p.Next == "" {
			break
		}
		nexts = append(nexts, p.Next)
		path = "/api/v1/features?limit=4&after=" + p.Next
	}
	var want []string
	for _, f := range all.Features {
		want = append(want, f.Service+"/"+f.Feature)
	}
	if strings.Join(walked, " ") != strings.Join(want, " ") {
		t.Errorf("pages walked %v, want %v", walked, want)
	}
	if len(nexts) != 2 || nexts[0] != want[3] || nexts[1] != want[7] {
		t.Errorf("next cursors %v, want %s and %s", nexts, want[3], want[7])
	}
	// A cursor between features (one removed by a reload) starts after it.
	if p := read("/api/v1/features?limit=1&after=daum/mailz"); len(p.Features) != 1 || p.Features[0].Service+"/"+p.Features[0].Feature != "daum/news" {
		t.Errorf("after a vanished feature: %+v", p.Features)
	}

	for _, tt := range []struct{ query, want string }{
		{"limit=0", `limit: \"0\" must be a number from 1 to 10000`},
		{"limit=x", `limit: \"x\" must be`},
		{"limit=10001", `from 1 to 10000`},
		{"after=talk", `after: \"talk\" must be service/feature`},
	} {
		resp, body := get(t, s, "/api/v1/features?"+tt.query)
		if resp.StatusCode != 400 || !strings.Contains(body, tt.want) {
			t.Errorf("?%s: %d %s; want 400 with %s", tt.query, resp.StatusCode, body, tt.want)
		}
	}
}
