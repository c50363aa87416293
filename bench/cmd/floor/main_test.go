package main

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/bench/internal/target"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	httpServers, err := target.ServeHTTP([]string{"127.0.0.2"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer httpServers.Close()
	dnsServers, err := target.ServeDNS([]string{"127.0.0.2"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer dnsServers.Close()
	tests := []struct {
		mode    string
		targets []string
		rate    float64
		min     int
		errors  int
	}{
		{"http", httpServers.Addrs, 200, 90, 0}, // paced: 100 in 500 ms
		{"http", httpServers.Addrs, 0, 10, 0},   // back to back
		{"dns", dnsServers.Addrs, 200, 90, 0},
		{"http", []string{"127.0.0.2:1"}, 20, 5, -1}, // refused: every probe fails
	}
	for _, tt := range tests {
		rep, err := run(tt.mode, tt.targets, "/", tt.rate, 500*time.Millisecond, false)
		if err != nil {
			t.Fatalf("%s rate %v: %v", tt.mode, tt.rate, err)
		}
		wantErrors := tt.errors
		if wantErrors < 0 {
			wantErrors = rep.Probes
		}
		if rep.Probes < tt.min || rep.Errors != wantErrors || rep.CPUSeconds <= 0 && tt.rate == 0 {
			t.Errorf("%s rate %v: %+v, want at least %d probes and %d errors", tt.mode, tt.rate, rep, tt.min, wantErrors)
		}
		if tt.rate > 0 && rep.Probes > int(tt.rate/2)+1 {
			t.Errorf("%s rate %v: %d probes in 500 ms, pacing broken", tt.mode, tt.rate, rep.Probes)
		}
	}
	if _, err := run("smtp", httpServers.Addrs, "/", 1, time.Second, false); err == nil {
		t.Error("unknown mode: want an error")
	}
	rep, err := run("http", httpServers.Addrs, target.SlowPath, 10, time.Second, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Durations) != rep.Probes || rep.Probes < 9 {
		t.Fatalf("recorded %d durations of %d probes, want all of at least 9", len(rep.Durations), rep.Probes)
	}
	for _, d := range rep.Durations {
		if d < target.SlowDelay.Seconds() || d > 1 {
			t.Errorf("slow probe took %vs, want 0.05 to 1", d)
		}
	}
}
