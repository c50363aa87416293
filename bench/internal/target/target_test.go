package target

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHosts(t *testing.T) {
	got, err := Hosts(2, 3)
	if err != nil || strings.Join(got, ",") != "127.0.0.2,127.0.0.3,127.0.0.4" {
		t.Errorf("Hosts(2, 3) = %v, %v", got, err)
	}
	for _, bad := range [][2]int{{0, 1}, {2, 0}, {250, 10}} {
		if _, err := Hosts(bad[0], bad[1]); err == nil {
			t.Errorf("Hosts(%d, %d): want an error", bad[0], bad[1])
		}
	}
}

func TestServeHTTP(t *testing.T) {
	s, err := ServeHTTP([]string{"127.0.0.2", "127.0.0.3"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Addrs) != 4 || !strings.HasPrefix(s.Addrs[3], "127.0.0.3:") {
		t.Fatalf("Addrs = %v", s.Addrs)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(addr, path string) (string, time.Duration, *http.Response) {
		t.Helper()
		start := time.Now()
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(body), time.Since(start), resp
	}
	tests := []struct {
		path     string
		minDelay time.Duration
	}{{"/", 0}, {"/health", 0}, {SlowPath, SlowDelay}}
	for i, tt := range tests {
		body, took, resp := get(s.Addrs[i%len(s.Addrs)], tt.path)
		if resp.StatusCode != 200 || body != HealthBody || !resp.Close {
			t.Errorf("GET %s: %d %q close=%v", tt.path, resp.StatusCode, body, resp.Close)
		}
		if took < tt.minDelay || took > tt.minDelay+time.Second {
			t.Errorf("GET %s took %v, want at least %v", tt.path, took, tt.minDelay)
		}
	}
	if n, _, _ := get(s.Addrs[0], ServedPath); n != "3" {
		t.Errorf("served = %s, want 3 (all listeners share the count)", n)
	}
}

func TestServeDNS(t *testing.T) {
	s, err := ServeDNS([]string{"127.0.0.2"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Addrs) != 2 {
		t.Fatalf("Addrs = %v", s.Addrs)
	}
	client := &dns.Client{Timeout: 5 * time.Second}
	for _, tt := range []struct {
		qtype   uint16
		answers int
	}{{dns.TypeA, 2}, {dns.TypeAAAA, 0}} {
		m := new(dns.Msg)
		m.SetQuestion(QueryName, tt.qtype)
		resp, _, err := client.Exchange(m, s.Addrs[1])
		if err != nil {
			t.Fatal(err)
		}
		if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != tt.answers {
			t.Errorf("%s: rcode %s, %d answers, want NOERROR and %d", dns.TypeToString[tt.qtype], dns.RcodeToString[resp.Rcode], len(resp.Answer), tt.answers)
		}
	}
}

func TestWaitExactly(t *testing.T) {
	for _, d := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond} {
		start := time.Now()
		if !waitExactly(context.Background(), d) {
			t.Fatalf("waitExactly(%v) = false without cancellation", d)
		}
		if took := time.Since(start); took < d {
			t.Errorf("waitExactly(%v) returned after %v, before its deadline", d, took)
		}
	}
	// Cancelled while on the timer, and while watching the clock (d shorter
	// than spinLead goes straight to the clock).
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(10*time.Millisecond, cancel)
	defer timer.Stop()
	if start := time.Now(); waitExactly(ctx, SlowDelay) || time.Since(start) >= SlowDelay {
		t.Errorf("cancelled after 10ms: waitExactly = true or waited the whole %v", SlowDelay)
	}
	if waitExactly(ctx, spinLead/2) {
		t.Error("cancelled context, watching the clock: waitExactly = true")
	}
}
