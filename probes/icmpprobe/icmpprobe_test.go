package icmpprobe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/probes"
)

// sysctlInt reads an integer sysctl under /proc/sys.
func sysctlInt(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		t.Fatalf("read sysctl %s: %v", name, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("sysctl %s: %v", name, err)
	}
	return n
}

// needSocket skips loudly (fails under CI=true) when the kernel refuses the
// socket kind for the family.
func needSocket(t *testing.T, kind socketKind, v6 bool) {
	t.Helper()
	conn, err := openSocket(kind, v6, netip.Addr{}, &plan{})
	if err == nil {
		conn.Close()
		return
	}
	if kind == socketUnprivileged {
		testenv.Need(t, "%s; allow it with: sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"", fmt.Errorf("%s: %w", needs(kind), err))
	}
	testenv.Need(t, "%s: %v", needs(kind), err)
}

func TestProbe(t *testing.T) {
	defaultTTL := sysctlInt(t, "net.ipv4.ip_default_ttl")
	hopLimit := sysctlInt(t, "net.ipv6.conf.all.hop_limit")
	tests := []struct {
		name    string
		cfg     Config
		kind    socketKind
		wantTTL int
	}{
		{"raw ipv4", Config{Target: "127.0.0.1"}, socketRaw, defaultTTL},
		{"raw ipv6", Config{Target: "::1"}, socketRaw, hopLimit},
		{"unprivileged ipv4", Config{Target: "127.0.0.1"}, socketUnprivileged, defaultTTL},
		{"unprivileged ipv6", Config{Target: "::1"}, socketUnprivileged, hopLimit},
		{"raw big payload, DF, ttl", Config{Target: "127.0.0.1", PayloadSize: 9000, DontFragment: true, TTL: 3}, socketRaw, defaultTTL},
		{"unprivileged big payload, DF, ttl", Config{Target: "127.0.0.1", PayloadSize: 9000, DontFragment: true, TTL: 3}, socketUnprivileged, defaultTTL},
		{"raw host name", Config{Target: "localhost"}, socketRaw, defaultTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			needSocket(t, tt.kind, strings.Contains(tt.cfg.Target, ":"))
			p, err := New(&tt.cfg, probes.Options{CheckID: "s/f/c"})
			if err != nil {
				t.Fatal(err)
			}
			p.kinds = []socketKind{tt.kind}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			r := p.Probe(ctx)
			if !r.Success {
				t.Fatalf("Probe: %v", r.Err)
			}
			if r.ICMP == nil || r.ICMP.Socket != tt.kind.String() || r.ICMP.ReplyTTL != tt.wantTTL {
				t.Errorf("ICMP info %+v, want socket %s, reply TTL %d", r.ICMP, tt.kind, tt.wantTTL)
			}
			var names []string
			for _, ph := range r.Phases {
				names = append(names, ph.Name)
			}
			want := []string{"setup", "rtt"}
			if tt.cfg.Target == "localhost" {
				want = []string{"resolve", "setup", "rtt"}
			}
			if !slices.Equal(names, want) {
				t.Errorf("phases %q, want %q", names, want)
			}
		})
	}
}

// TestProbeDefaultKinds: with both kinds allowed in order, the run passes
// over whichever the kernel allows, ping socket first.
func TestProbeDefaultKinds(t *testing.T) {
	p, err := New(&Config{Target: "127.0.0.1"}, probes.Options{CheckID: "s/f/c"})
	if err != nil {
		t.Fatal(err)
	}
	want := "unprivileged"
	if conn, err := openSocket(socketUnprivileged, false, netip.Addr{}, p.plan); err != nil {
		needSocket(t, socketRaw, false)
		want = "raw"
	} else {
		conn.Close()
	}
	r := p.Probe(context.Background())
	if !r.Success || r.ICMP.Socket != want {
		t.Fatalf("Probe: %v, info %+v, want socket %s", r.Err, r.ICMP, want)
	}
}

// TestProbeNoSocket: when the kernel refuses both kinds, the error names the
// sysctl and the capability.
func TestProbeNoSocket(t *testing.T) {
	p, err := New(&Config{Target: "127.0.0.1"}, probes.Options{CheckID: "s/f/c"})
	if err != nil {
		t.Fatal(err)
	}
	p.open = func(kind socketKind, _ bool, _ netip.Addr, _ *plan) (net.PacketConn, error) {
		if kind == socketRaw {
			return nil, os.NewSyscallError("socket", syscall.EPERM)
		}
		return nil, os.NewSyscallError("socket", syscall.EACCES)
	}
	r := p.Probe(context.Background())
	want := fmt.Sprintf("icmp probe s/f/c: 127.0.0.1: setup: no ICMP socket allowed: "+
		"%s: socket: permission denied\na raw socket needs root or CAP_NET_RAW: socket: operation not permitted", needs(socketUnprivileged))
	if r.Success || r.ErrorString() != want || !strings.Contains(want, "sysctl net.ipv4.ping_group_range (now ") {
		t.Errorf("err %q\nwant %q", r.ErrorString(), want)
	}
	if !errors.Is(r.Err, syscall.EACCES) || !errors.Is(r.Err, syscall.EPERM) {
		t.Error("the errnos are not reachable through the error")
	}
}

// TestProbeCanceled: a canceled run says so.
func TestProbeCanceled(t *testing.T) {
	needSocket(t, socketRaw, false)
	p, err := New(&Config{Target: "127.0.0.1"}, probes.Options{CheckID: "s/f/c"})
	if err != nil {
		t.Fatal(err)
	}
	p.kinds = []socketKind{socketRaw}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := p.Probe(ctx); r.Success || r.TimedOut || !strings.HasSuffix(r.ErrorString(), "run canceled: context canceled") {
		t.Errorf("canceled: success %v, timed out %v, err %v", r.Success, r.TimedOut, r.Err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"ok", Config{Target: "gw.example.com", PayloadSize: 1400, DontFragment: true, TTL: 64}, ""},
		{"no target", Config{}, "target: required"},
		{"payload too big", Config{Target: "127.0.0.1", PayloadSize: 70000}, "payload_size: 70000 is out of range: want 0 to 65507 bytes"},
		{"ttl too big", Config{Target: "127.0.0.1", TTL: 256}, "ttl: 256 is out of range: want 1 to 255"},
		{"df on ipv6", Config{Target: "::1", DontFragment: true}, "dont_fragment: is for IPv4 only: IPv6 never fragments in transit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := tt.cfg.Validate(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
}
