package demo

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/miekg/dns"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/msgprobe"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// startTestTarget starts a target with a DNS name in its own zone.
func startTestTarget(t *testing.T, fail Failure, webSocket bool) (*Target, *zone) {
	t.Helper()
	target := &Target{Service: "talk", Feature: "chat-rooms", Site: SitePangyo, Fail: fail,
		slowDelay: 150 * time.Millisecond, webSocket: webSocket, logger: discard()}
	if err := startTarget(target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(target.close)
	target.DNSName = dnsName(target.Service, target.Feature, target.Site)
	z, err := startZone(map[string]*Target{target.DNSName: target})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(z.close)
	return target, z
}

// TestTargetFollowsItsState drives one target through every state, twice for
// each failure mode, and checks what HTTP, DNS and WebSocket clients see.
func TestTargetFollowsItsState(t *testing.T) {
	type want struct {
		status   int  // HTTP status of /v1/health; 0: connection refused
		rcode    int  // DNS rcode for the target's name
		echo     bool // WebSocket round trip works
		minDelay time.Duration
	}
	up := want{status: 200, rcode: dns.RcodeSuccess, echo: true}
	slow := want{status: 200, rcode: dns.RcodeSuccess, echo: true, minDelay: 150 * time.Millisecond}
	tests := []struct {
		name  string
		fail  Failure
		steps []State
		want  []want
	}{
		{"power cut", Refused, []State{Up, Down, Up, Down, Slow, Up},
			[]want{up, {status: 0, rcode: dns.RcodeServerFailure}, up, {status: 0, rcode: dns.RcodeServerFailure}, slow, up}},
		{"front end answers 503", Unavailable, []State{Up, Down, Slow, Down, Up},
			[]want{up, {status: 503, rcode: dns.RcodeServerFailure}, slow, {status: 503, rcode: dns.RcodeServerFailure}, up}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, z := startTestTarget(t, tt.fail, true)
			addr := target.Addr
			for i, state := range tt.steps {
				if err := target.setState(state); err != nil {
					t.Fatalf("step %d: setState(%s): %v", i, state, err)
				}
				if target.Addr != addr {
					t.Fatalf("step %d: address moved from %s to %s", i, addr, target.Addr)
				}
				w := tt.want[i]
				status, took := getHealth(t, target.Addr)
				if status != w.status || took < w.minDelay {
					t.Errorf("step %d (%s): GET %s = %d after %s, want %d after at least %s", i, state, healthPath, status, took, w.status, w.minDelay)
				}
				if rcode := queryA(t, z.addr, target.DNSName); rcode != w.rcode {
					t.Errorf("step %d (%s): DNS %s rcode %s, want %s", i, state, target.DNSName, dns.RcodeToString[rcode], dns.RcodeToString[w.rcode])
				}
				if got := echoes(target.Addr); got != w.echo {
					t.Errorf("step %d (%s): WebSocket echo works = %v, want %v", i, state, got, w.echo)
				}
			}
		})
	}
}

func getHealth(t *testing.T, addr string) (status int, took time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	begin := time.Now()
	resp, err := client.Get("http://" + addr + healthPath)
	took = time.Since(begin)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return 0, took
	}
	if err != nil {
		t.Fatalf("GET %s: %v", addr, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && !strings.Contains(string(body), `"status":"ok"`) {
		t.Errorf("GET %s: 200 with body %q", addr, body)
	}
	return resp.StatusCode, took
}

func queryA(t *testing.T, server, name string) int {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		t.Fatalf("DNS %s @%s: %v", name, server, err)
	}
	if r.Rcode == dns.RcodeSuccess && len(r.Answer) != 1 {
		t.Errorf("DNS %s: NOERROR with %d answers, want 1", name, len(r.Answer))
	}
	return r.Rcode
}

// echoes reports whether a frame sent to the target's echo comes back.
func echoes(addr string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+addr+echoPath, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}})
	if err != nil {
		return false
	}
	defer conn.CloseNow()
	if err := conn.Write(ctx, websocket.MessageText, []byte("hello-pangyo")); err != nil {
		return false
	}
	_, data, err := conn.Read(ctx)
	return err == nil && string(data) == "hello-pangyo"
}

// TestBrokersStopAndComeBack runs real NATS and MQTT round trips (the
// agent's own probe) against the embedded brokers through a stop and a start.
func TestBrokersStopAndComeBack(t *testing.T) {
	b, err := startBrokers(discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.close)
	natsAddr, mqttAddr := b.NATSAddr, b.MQTTAddr
	checks := []*msgprobe.Config{
		{Protocol: "nats", URL: "nats://" + natsAddr, Topic: "vigil.test.demo", Messages: 3},
		{Protocol: "mqtt", URL: "tcp://" + mqttAddr, Topic: "vigil/test/demo", Messages: 3},
	}
	roundTrip := func(cfg *msgprobe.Config) *probes.Result {
		p, err := msgprobe.New(cfg, probes.Options{AgentID: "kr-central-1@test", CheckID: "talk/message-send-receive/" + cfg.Protocol, Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return p.Probe(ctx)
	}
	for i, running := range []bool{true, false, true, false, true} {
		if running {
			if err := b.start(); err != nil {
				t.Fatalf("step %d: start: %v", i, err)
			}
		} else {
			b.stop()
		}
		if b.NATSAddr != natsAddr || b.MQTTAddr != mqttAddr {
			t.Fatalf("step %d: brokers moved to %s, %s", i, b.NATSAddr, b.MQTTAddr)
		}
		for _, cfg := range checks {
			r := roundTrip(cfg)
			if r.Success != running {
				t.Errorf("step %d: %s round trip success = %v (%s), want %v", i, cfg.Protocol, r.Success, r.ErrorString(), running)
			}
			if running && (r.Messaging == nil || r.Messaging.Received != 3) {
				t.Errorf("step %d: %s round trip %+v, want 3 messages received", i, cfg.Protocol, r.Messaging)
			}
			if !running && !strings.Contains(r.ErrorString(), "connection refused") {
				t.Errorf("step %d: %s error %q, want connection refused", i, cfg.Protocol, r.ErrorString())
			}
		}
	}
}
