package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/globalview"
	"github.com/vigil-monitoring/vigil/internal/testenv"
)

// globalFeatures is /api/v1/global/features.
type globalFeatures struct {
	Features []globalview.FeatureStatus `json:"features"`
	Regions  []string                   `json:"regions"`
}

// wantGlobal says what is wrong with the view of the global role while both
// the fire's features and busan's gateway are down ("" when all is as
// scripted): the fire's features both regions watch are down globally, both
// regions down; Kakao Games, failing through busan's gateway only, is
// regional, down in kr-south-1 alone, with no global outage.
func wantGlobal(g globalFeatures) string {
	byKey := map[string]globalview.FeatureStatus{}
	for _, f := range g.Features {
		byKey[key(f.Service, f.Feature)] = f
	}
	var wrong []string
	for _, k := range fireSeenFromBoth {
		if k == "talk/message-send-receive" {
			continue // back at 28s, before the gateway fails
		}
		f := byKey[k]
		if f.State != globalview.StateDown || !slices.Equal(f.RegionsDown, []string{"kr-central-1", "kr-south-1"}) || f.Outage == nil {
			wrong = append(wrong, fmt.Sprintf("%s: %s, regions down %v, outage %v (want down in both, with a global outage)", k, f.State, f.RegionsDown, f.Outage))
		}
	}
	for _, k := range busanOnly {
		f := byKey[k]
		if f.State != globalview.StateRegional || !slices.Equal(f.RegionsDown, []string{"kr-south-1"}) || f.Outage != nil {
			wrong = append(wrong, fmt.Sprintf("%s: %s, regions down %v, outage %v (want regional, down in kr-south-1 only, no global outage)", k, f.State, f.RegionsDown, f.Outage))
		}
	}
	if !slices.Equal(g.Regions, []string{"kr-central-1", "kr-south-1"}) {
		wrong = append(wrong, fmt.Sprintf("regions %v, want kr-central-1 and kr-south-1", g.Regions))
	}
	return strings.Join(wrong, "; ")
}

// TestGlobalView plays the script four times faster until busan's gateway
// fails while the fire's features are still down, and checks the global
// role's /api/v1/global/features against wantGlobal. Close then stops the
// role, its web server and the stream's NATS server (TestMain checks that no
// goroutine is left).
func TestGlobalView(t *testing.T) {
	storage := t.TempDir()
	var out syncBuffer
	d, err := Start(Options{ListenAddress: "127.0.0.1:0", StoragePath: storage, Speed: 4, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = d.Close()
		}
	})
	g := d.Global()
	d.PrintGuide()
	for _, want := range []string{
		"status page  " + g.URL + "/\n",
		"features     " + g.URL + "/api/v1/global/features\n",
		"stream VIGIL_DEMO on " + g.NATSURL,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("guide lacks %q:\n%s", want, out.String())
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	played := make(chan error, 1)
	go func() { played <- d.Play(ctx) }()
	var last globalFeatures
	var problem string
	// The gateway is down from 10s to 16s of the play (40s to 64s of the
	// script), the fire's features until 17s at least; the agents publish
	// every second.
	ok := testenv.Poll(30*time.Second, func() bool {
		last = globalFeatures{}
		if err := getJSONErr(g.URL+"/api/v1/global/features", &last); err != nil {
			problem = err.Error()
			return false
		}
		problem = wantGlobal(last)
		// Past the gateway's return, the last problem seen is the failure.
		return problem == "" || slices.ContainsFunc(d.Played(), func(pb PlayedBeat) bool { return pb.Beat.At == 64*time.Second })
	})
	cancel()
	if err := <-played; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Play: %v", err)
	}
	if !ok || problem != "" {
		t.Fatalf("the global view never showed the fire and the gateway's failure: %s\nnarration:\n%s", problem, out.String())
	}

	closed = true
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for what, addr := range map[string]string{"NATS server": strings.TrimPrefix(g.NATSURL, "nats://"),
		"web server": strings.TrimPrefix(g.URL, "http://")} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("the global view's %s still accepts connections on %s after Close", what, addr)
		}
	}
}

// getJSONErr is getJSON for polling: errors are returned, not fatal.
func getJSONErr(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
