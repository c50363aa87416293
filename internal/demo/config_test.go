package demo

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/config"
)

func TestTiming(t *testing.T) {
	tests := []struct {
		speed    float64
		interval time.Duration
		want     timing
	}{
		{1, 0, timing{speed: 1, interval: 2 * time.Second, timeout: 1800 * time.Millisecond, latency: 400 * time.Millisecond, slow: 900 * time.Millisecond}},
		{2, 0, timing{speed: 2, interval: time.Second, timeout: 900 * time.Millisecond, latency: 200 * time.Millisecond, slow: 450 * time.Millisecond}},
		{10, 0, timing{speed: 10, interval: 200 * time.Millisecond, timeout: 180 * time.Millisecond, latency: 40 * time.Millisecond, slow: 90 * time.Millisecond}},
		// Checks never run more often than every 100ms, however fast the script.
		{100, 0, timing{speed: 100, interval: 100 * time.Millisecond, timeout: 90 * time.Millisecond, latency: 20 * time.Millisecond, slow: 45 * time.Millisecond}},
		{0, 0, timing{speed: 1, interval: 2 * time.Second, timeout: 1800 * time.Millisecond, latency: 400 * time.Millisecond, slow: 900 * time.Millisecond}},
		{1, 500 * time.Millisecond, timing{speed: 1, interval: 500 * time.Millisecond, timeout: 450 * time.Millisecond, latency: 100 * time.Millisecond, slow: 225 * time.Millisecond}},
	}
	for _, tt := range tests {
		got := newTiming(tt.speed, tt.interval)
		if got != tt.want {
			t.Errorf("newTiming(%g, %s) = %+v, want %+v", tt.speed, tt.interval, got, tt.want)
		}
		if !(got.latency < got.slow && got.slow < got.timeout && got.timeout < got.interval) {
			t.Errorf("newTiming(%g, %s): want latency < slow < timeout < interval, got %+v", tt.speed, tt.interval, got)
		}
	}
	// Restored data is watched two minutes of the script, whatever the speed.
	for _, speed := range []float64{1, 2, 10} {
		tm := newTiming(speed, 0)
		if got := tm.recoveryThreshold(trustAfter); got != 60 {
			t.Errorf("speed %g: recovery threshold %d, want 60 runs of %s", speed, got, tm.interval)
		}
	}
}

// TestConfigsLoad renders both agents' configs for a running landscape and
// loads them as the agent does.
func TestConfigsLoad(t *testing.T) {
	tm := newTiming(10, 0)
	l, err := startLandscape(timeline, tm, discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	tests := []struct {
		region       Region
		features     int
		checks       int
		wantFeatures []string
		notFeatures  []string
	}{
		// 24 features; 33 checks: one API each, Melon's two, three DNS names,
		// the WebSocket echo, the NATS and MQTT round trips, the journey of
		// message-send-receive and the browser check of road view.
		{regions[0], 24, 33, []string{"talk/message-send-receive", "talk/talk-drawer", "games/main"}, nil},
		{regions[1], 7, 13, []string{"talk/message-send-receive", "daum/search", "pay/payment", "mobility/kakao-t", "entertainment/melon", "games/main", "zigzag/main"},
			[]string{"talk/talk-drawer", "cafe/main"}},
	}
	for _, tt := range tests {
		t.Run(tt.region.Name, func(t *testing.T) {
			text := renderConfig(tt.region, l, tm, "nats://127.0.0.1:4222", true)
			file := filepath.Join(t.TempDir(), "vigil.yml")
			if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(file)
			if err != nil {
				t.Fatalf("config.Load: %v\n%s", err, text)
			}
			if cfg.Agent.Region != tt.region.Name {
				t.Errorf("region %q, want %q", cfg.Agent.Region, tt.region.Name)
			}
			// Both publish their record to the demo's stream, named by region.
			if g := cfg.Global; g == nil || g.URL != "nats://127.0.0.1:4222" || g.Stream != globalStream || g.AgentID != tt.region.Name {
				t.Errorf("global block %+v, want the demo's stream %s, agent id %s", g, globalStream, tt.region.Name)
			}
			checks := cfg.Checks()
			features := map[string]*config.Feature{}
			for _, ref := range checks {
				features[ref.Service.Name+"/"+ref.Feature.Name] = ref.Feature
				if ref.Check.Kind() == "browser" { // less often, with a browser's time
					if ref.Interval != tm.browserInterval() || ref.Timeout != browserTimeout {
						t.Errorf("%s: interval %s timeout %s, want %s and %s", ref.ID, ref.Interval, ref.Timeout, tm.browserInterval(), browserTimeout)
					}
					continue
				}
				if ref.Interval != tm.interval || ref.Timeout != tm.timeout {
					t.Errorf("%s: interval %s timeout %s, want %s and %s", ref.ID, ref.Interval, ref.Timeout, tm.interval, tm.timeout)
				}
			}
			if len(features) != tt.features || len(checks) != tt.checks {
				t.Errorf("%d features, %d checks; want %d and %d", len(features), len(checks), tt.features, tt.checks)
			}
			for _, k := range tt.wantFeatures {
				if features[k] == nil {
					t.Errorf("feature %s missing", k)
				}
			}
			for _, k := range tt.notFeatures {
				if features[k] != nil {
					t.Errorf("feature %s watched, want not", k)
				}
			}
			// Changed (issue 16): thresholds count each check's runs, so a
			// feature of 4 checks takes the default 2 like any other.
			if f := features["talk/message-send-receive"]; f.FailureThreshold != 2 {
				t.Errorf("message-send-receive failure_threshold %d, want the default 2", f.FailureThreshold)
			}
			if f := features["talk/talk-drawer"]; f != nil && f.RecoveryThreshold != 60 {
				t.Errorf("talk-drawer recovery_threshold %d, want 60", f.RecoveryThreshold)
			}
			if f := features["pay/payment"]; f.SLO == nil || time.Duration(f.SLO.Latency) != tm.latency {
				t.Errorf("pay/payment slo %+v, want latency %s", f.SLO, tm.latency)
			}
			if f := features["entertainment/melon"]; f.Require.Mode != "any" || len(f.Checks) != 2 {
				t.Errorf("melon: require %s with %d checks, want any of 2", f.Require, len(f.Checks))
			}
			// kr-south-1 reaches Kakao Games through busan's gateway, kr-central-1 directly.
			site := SiteBusan
			if tt.region.ViaGateway {
				site = SiteBusanGateway
			}
			games := features["games/main"]
			if want := "http://" + l.Target("games/main", site).Addr + healthPath; len(games.Checks) != 1 || games.Checks[0].HTTP == nil ||
				games.Checks[0].HTTP.URL != want {
				t.Errorf("games/main checks %+v, want one HTTP check of %s", games.Checks, want)
			}
			// Each region has its own topics, so their round trips never mix.
			msg := features["talk/message-send-receive"]
			var kinds []string
			for _, c := range msg.Checks {
				kinds = append(kinds, c.Name)
				if c.Messaging != nil && c.Messaging.Protocol != "websocket" && !strings.HasSuffix(c.Messaging.Topic, tt.region.Name) {
					t.Errorf("%s topic %q does not end in the region", c.Name, c.Messaging.Topic)
				}
			}
			if !slices.Equal(kinds, []string{"api", "dns", "journey", "nats", "mqtt"}) {
				t.Errorf("message-send-receive checks %v, want api, dns, journey, nats, mqtt", kinds)
			}
		})
	}
}

func TestScripts(t *testing.T) {
	s := func(at int, state State) Phase { return Phase{At: time.Duration(at) * time.Second, State: state} }
	tests := []struct {
		key, site string
		want      []Phase
	}{
		{"talk/message-send-receive", SitePangyo, []Phase{s(0, Up), s(20, Down), s(28, Up)}},
		{"talk/friends-shop-search", SitePangyo, []Phase{s(0, Up), s(20, Down), s(52, Slow)}},
		{"pay/payment", SitePangyo, []Phase{s(0, Up), s(20, Down), s(92, Up), s(150, Slow)}},
		{"talk/talk-drawer", SitePangyo, []Phase{s(0, Up), s(20, Down), s(125, Up)}},
		{"entertainment/melon", SitePangyo, []Phase{s(0, Up), s(20, Down), s(108, Up)}},
		{"entertainment/melon", SiteBusan, []Phase{s(0, Up)}},
		{"games/main", SiteBusan, []Phase{s(0, Up)}},
		{"games/main", SiteBusanGateway, []Phase{s(0, Up), s(40, Down), s(64, Up)}},
	}
	for _, tt := range tests {
		got := scriptFor(timeline, tt.key, tt.site)
		if !slices.Equal(got, tt.want) {
			t.Errorf("script of %s@%s = %v, want %v", tt.key, tt.site, got, tt.want)
		}
	}
	// Every change names a feature of the catalog, and beats are in order.
	for i, b := range timeline {
		if i > 0 && b.At <= timeline[i-1].At {
			t.Errorf("beat %d at %s is not after beat %d at %s", i, b.At, i-1, timeline[i-1].At)
		}
		for _, c := range b.Changes {
			if c.Feature != "" {
				service, feature, _ := strings.Cut(c.Feature, "/")
				if catalogIndex(service, feature) < 0 {
					t.Errorf("beat %q changes %q, which is not in the catalog", b.Say, c.Feature)
				}
			}
		}
	}
	if got := stateAt(scriptFor(timeline, "pay/payment", SitePangyo), 100*time.Second); got != Up {
		t.Errorf("payment at 100s: %s, want up", got)
	}
	if got := storyTime(28 * time.Second).Format("15:04"); got != "15:41" {
		t.Errorf("story time of the first recovery %s, want 15:41", got)
	}
}
