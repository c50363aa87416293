package kinds

import (
	"slices"
	"strings"
	"testing"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/dnsprobe"
	"github.com/vigil-monitoring/vigil/probes/grpcprobe"
	"github.com/vigil-monitoring/vigil/probes/httpprobe"
	"github.com/vigil-monitoring/vigil/probes/icmpprobe"
	"github.com/vigil-monitoring/vigil/probes/journeyprobe"
	"github.com/vigil-monitoring/vigil/probes/msgprobe"
	"github.com/vigil-monitoring/vigil/probes/sshprobe"
	"github.com/vigil-monitoring/vigil/probes/tcpprobe"
	"github.com/vigil-monitoring/vigil/probes/tlsprobe"
)

func TestTable(t *testing.T) {
	if got, want := Names(), []string{"http", "dns", "messaging", "tcp", "tls", "ssh", "grpc", "icmp", "browser", "journey"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	tests := []struct {
		name   string
		blocks Blocks
		kind   string
		set    int
	}{
		{"none", Blocks{}, "", 0},
		{"http", Blocks{HTTP: &httpprobe.Config{URL: "http://127.0.0.1/"}}, "http", 1},
		{"dns", Blocks{DNS: &dnsprobe.Config{Server: "127.0.0.1", QueryName: "example.com"}}, "dns", 1},
		{"messaging", Blocks{Messaging: &msgprobe.Config{Protocol: "nats", URL: "nats://127.0.0.1:4222", Topic: "t"}}, "messaging", 1},
		{"tcp", Blocks{TCP: &tcpprobe.Config{Target: "127.0.0.1:22"}}, "tcp", 1},
		{"tls", Blocks{TLS: &tlsprobe.Config{Target: "127.0.0.1"}}, "tls", 1},
		{"ssh", Blocks{SSH: &sshprobe.Config{Target: "127.0.0.1"}}, "ssh", 1},
		{"grpc", Blocks{GRPC: &grpcprobe.Config{Target: "127.0.0.1:50051"}}, "grpc", 1},
		{"icmp", Blocks{ICMP: &icmpprobe.Config{Target: "127.0.0.1"}}, "icmp", 1},
		{"journey", Blocks{Journey: &journeyprobe.Config[Blocks]{Steps: []journeyprobe.Step[Blocks]{
			{Name: "home", Blocks: Blocks{HTTP: &httpprobe.Config{URL: "http://127.0.0.1/"}}}}}}, "journey", 1},
		{"two", Blocks{HTTP: &httpprobe.Config{}, DNS: &dnsprobe.Config{}}, "http", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.blocks.Kind(); got != tt.kind {
				t.Errorf("Kind() = %q, want %q", got, tt.kind)
			}
			set := tt.blocks.Set()
			if len(set) != tt.set {
				t.Fatalf("Set() has %d kinds, want %d", len(set), tt.set)
			}
			if tt.set != 1 {
				return
			}
			if err := set[0].Validate(&tt.blocks); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			p, err := tt.blocks.Build(probes.Options{CheckID: "s/f/c"})
			if err != nil || p == nil {
				t.Fatalf("Build = %v, %v", p, err)
			}
			if c, ok := p.(probes.Closer); ok {
				c.Close()
			}
		})
	}
	if _, err := (&Blocks{}).Build(probes.Options{CheckID: "s/f/c"}); err == nil || err.Error() != "check s/f/c has no probe kind" {
		t.Errorf("Build of no kind: %v", err)
	}
	// A bad block fails Build with the kind's error, and no typed nil Prober.
	p, err := (&Blocks{HTTP: &httpprobe.Config{}}).Build(probes.Options{})
	if err == nil || p != nil {
		t.Errorf("Build of a bad block = %v, %v; want nil and an error", p, err)
	}
}

// TestJourneySteps: a journey's step is any kind of the table but journey,
// exactly one, validated by its kind.
func TestJourneySteps(t *testing.T) {
	tests := []struct {
		name    string
		step    Blocks
		wantErr string
	}{
		{"http", Blocks{HTTP: &httpprobe.Config{URL: "http://127.0.0.1/"}}, ""},
		{"dns", Blocks{DNS: &dnsprobe.Config{Server: "127.0.0.1", QueryName: "example.com"}}, ""},
		{"none", Blocks{}, "steps[0]: a step needs exactly one of http, dns, messaging, tcp, tls, ssh, grpc, icmp, browser (has 0)"},
		{"two", Blocks{HTTP: &httpprobe.Config{URL: "http://127.0.0.1/"}, DNS: &dnsprobe.Config{Server: "127.0.0.1", QueryName: "example.com"}},
			"steps[0]: a step needs exactly one of http, dns, messaging, tcp, tls, ssh, grpc, icmp, browser (has 2)"},
		{"nested journey", Blocks{Journey: &journeyprobe.Config[Blocks]{}}, "steps[0].journey: a journey step cannot be a journey"},
		{"bad block", Blocks{HTTP: &httpprobe.Config{}}, "steps[0].http.url: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Blocks{Journey: &journeyprobe.Config[Blocks]{Steps: []journeyprobe.Step[Blocks]{{Name: "s", Blocks: tt.step}}}}
			err := b.Set()[0].Validate(&b)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Fatalf("Validate = %v, want prefix %q", err, tt.wantErr)
			}
		})
	}
}
