package main

import (
	"slices"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/bench/internal/workload"
	"github.com/vigil-monitoring/vigil/internal/config"
)

// TestPortsPerHost checks that the target gets enough ports for the rate,
// never fewer than the layout of the runs before issue 22.
func TestPortsPerHost(t *testing.T) {
	tests := []struct {
		rate, pairRate float64
		hosts, want    int
	}{
		{1000 + 100.0/30, 150, 8, 4},      // 10,000 checks at 10 s: the old 32 listeners
		{4800, 150, 8, 4},                 // exactly 150 a pair on 32
		{5000 + 100.0/30, 150, 8, 5},      // 50,000 checks: 40 pairs, 125 a pair
		{5000, 100, 8, 7},                 // 50 pairs needed: 56
		{5000, 150, 4, 9},                 // fewer hosts, more ports
		{5000, 0, 8, minPortsPerHost},     // no limit given
		{100000, 150, 8, 84},              // 667 pairs
		{0, 150, 8, minPortsPerHost},      // nothing to serve
		{5000, 150, 0, minPortsPerHost},   // no hosts: the minimum, the caller fails
		{4800.000001, 150, 8, 5},          // a hair over 150 a pair
		{float64(60000) / 10, 150, 8, 5},  // 6,000/s: 40 pairs, 150 each
		{float64(60001) / 10, 150, 8, 6},  // just over
		{float64(100000) / 10, 150, 8, 9}, // 10,000/s: 72 pairs, 139 each
	}
	for _, tt := range tests {
		if got := portsPerHost(tt.rate, tt.pairRate, tt.hosts); got != tt.want {
			t.Errorf("portsPerHost(%v/s, %v a pair, %d hosts) = %d, want %d", tt.rate, tt.pairRate, tt.hosts, got, tt.want)
		}
	}
}

func TestSplitHosts(t *testing.T) {
	tests := []struct {
		procs   int
		want    []hostRange
		wantErr bool
	}{
		{1, []hostRange{{2, 8}}, false},
		{2, []hostRange{{2, 4}, {6, 4}}, false},
		{3, []hostRange{{2, 3}, {5, 3}, {8, 2}}, false},
		{8, []hostRange{{2, 1}, {3, 1}, {4, 1}, {5, 1}, {6, 1}, {7, 1}, {8, 1}, {9, 1}}, false},
		{0, nil, true},
		{9, nil, true},
	}
	for _, tt := range tests {
		got, err := splitHosts(httpFirstHost, httpHosts, tt.procs)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("splitHosts(2, 8, %d) = %v, %v; want %v (error: %v)", tt.procs, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestMaxHTTPRate checks the rate the target is sized for: the largest part
// that runs, fidelity checks included where the part has them.
func TestMaxHTTPRate(t *testing.T) {
	p := quickPlan() // 50 fidelity checks every 30 s in the http part
	tests := []struct {
		parts []string
		http  []int
		want  float64
	}{
		{[]string{"http"}, []int{1000, 10000}, 1000 + 50.0/30},
		{[]string{"http", "sizing"}, []int{50000}, 5000 + 50.0/30},
		{[]string{"sizing"}, []int{50000}, 5000}, // sizing's 10,000 and 50,000, no fidelity
		{[]string{"tcp"}, nil, 100},
		{[]string{"dns", "icmp"}, nil, 0},
	}
	for _, tt := range tests {
		p.HTTPChecks, p.Parts = tt.http, map[string]bool{}
		for _, part := range tt.parts {
			p.Parts[part] = true
		}
		if got := p.maxHTTPRate(); got < tt.want-1e-9 || got > tt.want+1e-9 {
			t.Errorf("parts %v, http %v: maxHTTPRate = %v, want %v", tt.parts, tt.http, got, tt.want)
		}
	}
}

func TestProfileFor(t *testing.T) {
	tests := []struct {
		flag, part string
		n          int
		want       string
	}{
		{"", "http", 10000, ""},
		{"", "http", 49999, ""},
		{"", "http", 50000, "basic"},
		{"", "sizing", 10000, "basic"},
		{"standard", "http", 50000, "standard"},
		{"full", "sizing", 10000, "full"},
	}
	for _, tt := range tests {
		h := &harness{profile: tt.flag}
		if got := h.profileFor(tt.part, tt.n); got != tt.want {
			t.Errorf("-profile=%q: profileFor(%s, %d) = %q, want %q", tt.flag, tt.part, tt.n, got, tt.want)
		}
	}
}

// TestWithProfile loads the generated config with the profile set through
// Vigil's own loader: the key is spelled as internal/config reads it, and
// every check gets the profile.
func TestWithProfile(t *testing.T) {
	w := workload.HTTP(150, 10*time.Second, 2, 30*time.Second, []string{"127.0.0.2:8001"}, nil)
	for _, profile := range append([]string{""}, config.MetricsProfiles...) {
		text, err := withProfile(workload.VigilConfig(w), profile)
		if err != nil {
			t.Fatalf("%q: %v", profile, err)
		}
		cfg, err := config.Parse("vigil.yml", []byte(text))
		if err != nil {
			t.Fatalf("%q: generated config does not load: %v", profile, err)
		}
		want := profile
		if want == "" {
			want = "standard"
		}
		refs := cfg.Checks()
		if len(refs) != len(w.Checks) {
			t.Fatalf("%q: %d checks loaded, want %d", profile, len(refs), len(w.Checks))
		}
		for _, ref := range refs {
			if ref.Check.Metrics == nil || ref.Check.Metrics.Profile != want {
				t.Fatalf("%q: check %s has metrics %+v, want profile %s", profile, ref.ID, ref.Check.Metrics, want)
			}
		}
	}
	if _, err := withProfile("services: []\n", "basic"); err == nil {
		t.Error("withProfile on a config without an agent block: no error")
	}
}
