package export

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/vigil-monitoring/vigil/internal/expo"
	"github.com/vigil-monitoring/vigil/internal/expo/expotest"
	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/probes"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var start = time.Date(2026, 10, 15, 6, 33, 0, 0, time.UTC)

// results per kind: one passing and one failing run, with every kind-specific value.
var goldenCases = map[string][]*probes.Result{
	"http": {
		{Start: start, Duration: 42 * time.Millisecond, Success: true,
			Phases: []probes.Phase{{Name: "resolve", Duration: 0}, {Name: "connect", Duration: time.Millisecond}, {Name: "tls", Duration: 5 * time.Millisecond}, {Name: "processing", Duration: 30 * time.Millisecond}, {Name: "transfer", Duration: 6 * time.Millisecond}},
			HTTP:   &probes.HTTPInfo{StatusCode: 200, Version: "HTTP/1.1", ContentLength: 15, Redirects: 1, SSL: true, CertExpiry: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{Start: start.Add(30 * time.Second), Duration: 10 * time.Second, TimedOut: true, Err: errors.New("timeout"),
			Phases: []probes.Phase{{Name: "resolve", Duration: 0}, {Name: "connect", Duration: time.Millisecond}, {Name: "tls", Duration: 0}, {Name: "processing", Duration: 0}, {Name: "transfer", Duration: 0}},
			HTTP:   &probes.HTTPInfo{}},
	},
	"dns": {
		{Start: start, Duration: 3 * time.Millisecond, Success: true, Phases: []probes.Phase{{Name: "request", Duration: 3 * time.Millisecond}},
			DNS: &probes.DNSInfo{Rcode: "NOERROR", Answer: 2, Authority: 1, Additional: 0, SOASerial: 2022101501, HasSOA: true, Transport: "udp"}},
		{Start: start.Add(30 * time.Second), Duration: 2 * time.Millisecond, Err: errors.New("rcode SERVFAIL"), Phases: []probes.Phase{{Name: "request", Duration: 2 * time.Millisecond}},
			DNS: &probes.DNSInfo{Rcode: "SERVFAIL"}},
	},
	"messaging": {
		{Start: start, Duration: 12 * time.Millisecond, Success: true,
			Phases:    []probes.Phase{{Name: "connect", Duration: 2 * time.Millisecond}, {Name: "subscribe", Duration: time.Millisecond}, {Name: "publish", Duration: 3 * time.Millisecond}, {Name: "deliver", Duration: 6 * time.Millisecond}},
			Messaging: &probes.MessagingInfo{Protocol: "nats", Sent: 3, Received: 3, RoundTrips: []time.Duration{2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond}}},
		{Start: start.Add(30 * time.Second), Duration: 5 * time.Second, Err: errors.New("2 of 3 lost"),
			Phases:    []probes.Phase{{Name: "connect", Duration: 2 * time.Millisecond}, {Name: "subscribe", Duration: time.Millisecond}, {Name: "publish", Duration: 3 * time.Millisecond}, {Name: "deliver", Duration: 5 * time.Second}},
			Messaging: &probes.MessagingInfo{Protocol: "nats", Sent: 3, Received: 2, Lost: 2, Duplicated: 1, Reordered: 1, RoundTrips: []time.Duration{2 * time.Millisecond}}},
	},
	"tcp": {
		// query_response: expect a greeting, STARTTLS, then one exchange over TLS.
		{Start: start, Duration: 9 * time.Millisecond, Success: true,
			Phases: []probes.Phase{{Name: "resolve", Duration: 0}, {Name: "connect", Duration: time.Millisecond}, {Name: "exchange_1", Duration: time.Millisecond}, {Name: "exchange_2", Duration: time.Millisecond}, {Name: "tls", Duration: 4 * time.Millisecond}, {Name: "exchange_3", Duration: 2 * time.Millisecond}},
			TCP:    &probes.TCPInfo{Addr: "127.0.0.1:2525", Exchanges: 3},
			TLS:    &probes.TLSInfo{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", CertExpiry: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Subject: "CN=mail.example.com", Issuer: "CN=Example CA"}},
		// The greeting did not match: one step short of STARTTLS, so the
		// TLS series stay those of the run before.
		{Start: start.Add(30 * time.Second), Duration: 3 * time.Millisecond, Err: errors.New(`query_response[1]: expect "^220 ": read: EOF`),
			Phases: []probes.Phase{{Name: "resolve", Duration: 0}, {Name: "connect", Duration: time.Millisecond}, {Name: "exchange_1", Duration: time.Millisecond}},
			TCP:    &probes.TCPInfo{Addr: "127.0.0.1:2525", Exchanges: 1}},
	},
	"tls": {
		{Start: start, Duration: 6 * time.Millisecond, Success: true,
			Phases: []probes.Phase{{Name: "resolve", Duration: 0}, {Name: "connect", Duration: time.Millisecond}, {Name: "tls", Duration: 5 * time.Millisecond}},
			TLS:    &probes.TLSInfo{Version: "TLS 1.3", CipherSuite: "TLS_AES_256_GCM_SHA384", CertExpiry: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Subject: "CN=talk.example.com", Issuer: "CN=Example CA", SANs: []string{"talk.example.com"}}},
		// A server that fell back to TLS 1.2 with a certificate close to its
		// end: the version and cipher series are the new ones only.
		{Start: start.Add(30 * time.Second), Duration: 7 * time.Millisecond, Err: errors.New("certificate expires in 6 days, min_days_left is 14"),
			Phases: []probes.Phase{{Name: "resolve", Duration: 0}, {Name: "connect", Duration: time.Millisecond}, {Name: "tls", Duration: 6 * time.Millisecond}},
			TLS:    &probes.TLSInfo{Version: "TLS 1.2", CipherSuite: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", CertExpiry: time.Date(2026, 10, 21, 12, 0, 0, 0, time.UTC), Subject: "CN=talk.example.com", Issuer: "CN=Example CA", SANs: []string{"talk.example.com"}}},
	},
	"ssh": {
		{Start: start, Duration: 20 * time.Millisecond, Success: true,
			Phases: []probes.Phase{{Name: "resolve", Duration: 0}, {Name: "connect", Duration: time.Millisecond}, {Name: "banner", Duration: time.Millisecond}, {Name: "handshake", Duration: 12 * time.Millisecond}, {Name: "auth", Duration: 6 * time.Millisecond}},
			SSH:    &probes.SSHInfo{Banner: "SSH-2.0-OpenSSH_9.6", HostKeyFingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", Authenticated: true}},
		{Start: start.Add(30 * time.Second), Duration: 15 * time.Millisecond, Err: errors.New("login 127.0.0.1:2222 as probe: ssh: unable to authenticate"),
			Phases: []probes.Phase{{Name: "resolve", Duration: 0}, {Name: "connect", Duration: time.Millisecond}, {Name: "banner", Duration: time.Millisecond}, {Name: "handshake", Duration: 11 * time.Millisecond}, {Name: "auth", Duration: 2 * time.Millisecond}},
			SSH:    &probes.SSHInfo{Banner: "SSH-2.0-OpenSSH_9.6", HostKeyFingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"}},
	},
	"grpc": {
		{Start: start, Duration: 8 * time.Millisecond, Success: true,
			Phases: []probes.Phase{{Name: "resolve", Duration: 0}, {Name: "connect", Duration: time.Millisecond}, {Name: "tls", Duration: 4 * time.Millisecond}, {Name: "check", Duration: 3 * time.Millisecond}},
			GRPC:   &probes.GRPCInfo{ServingStatus: "SERVING", StatusCode: "OK", Code: 0},
			TLS:    &probes.TLSInfo{Version: "TLS 1.3", CipherSuite: "TLS_CHACHA20_POLY1305_SHA256", CertExpiry: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{Start: start.Add(30 * time.Second), Duration: 7 * time.Millisecond, Err: errors.New("127.0.0.1:50051: service talk.Messages is NOT_SERVING"),
			Phases: []probes.Phase{{Name: "resolve", Duration: 0}, {Name: "connect", Duration: time.Millisecond}, {Name: "tls", Duration: 4 * time.Millisecond}, {Name: "check", Duration: 2 * time.Millisecond}},
			GRPC:   &probes.GRPCInfo{ServingStatus: "NOT_SERVING", StatusCode: "OK", Code: 0},
			TLS:    &probes.TLSInfo{Version: "TLS 1.3", CipherSuite: "TLS_CHACHA20_POLY1305_SHA256", CertExpiry: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}},
	},
	"journey": {
		{Start: start, Duration: 60 * time.Millisecond, Success: true,
			Phases: []probes.Phase{{Name: "login", Duration: 20 * time.Millisecond}, {Name: "post", Duration: 15 * time.Millisecond}, {Name: "see", Duration: 20 * time.Millisecond}, {Name: "delete", Duration: 5 * time.Millisecond}},
			Journey: &probes.JourneyInfo{Steps: []probes.StepInfo{
				{Name: "login", Kind: "http", Duration: 20 * time.Millisecond, Success: true},
				{Name: "post", Kind: "http", Duration: 15 * time.Millisecond, Success: true},
				{Name: "see", Kind: "messaging", Duration: 20 * time.Millisecond, Success: true},
				{Name: "delete", Kind: "http", Duration: 5 * time.Millisecond, Success: true}}}},
		// The post fails: the skipped step keeps the last run's series, the
		// clean-up ran.
		{Start: start.Add(30 * time.Second), Duration: 31 * time.Millisecond, Err: errors.New("journey talk/message-send-receive/check-journey: step 2 post: POST http://127.0.0.1:8080/messages: status 401 not in valid_status_codes [201]"),
			Phases: []probes.Phase{{Name: "login", Duration: 21 * time.Millisecond}, {Name: "post", Duration: 4 * time.Millisecond}, {Name: "see", Duration: 0}, {Name: "delete", Duration: 6 * time.Millisecond}},
			Journey: &probes.JourneyInfo{FailedStep: "post", Steps: []probes.StepInfo{
				{Name: "login", Kind: "http", Duration: 21 * time.Millisecond, Success: true},
				{Name: "post", Kind: "http", Duration: 4 * time.Millisecond, Err: "POST http://127.0.0.1:8080/messages: status 401 not in valid_status_codes [201]"},
				{Name: "see", Kind: "messaging", Skipped: true},
				{Name: "delete", Kind: "http", Duration: 6 * time.Millisecond, Success: true}}}},
	},
	"icmp": {
		{Start: start, Duration: 400 * time.Microsecond, Success: true,
			Phases: []probes.Phase{{Name: "resolve", Duration: 0}, {Name: "setup", Duration: 100 * time.Microsecond}, {Name: "rtt", Duration: 300 * time.Microsecond}},
			ICMP:   &probes.ICMPInfo{Socket: "unprivileged", ReplyTTL: 64}},
		// No reply: the TTL stays the last reply's.
		{Start: start.Add(30 * time.Second), Duration: 10 * time.Second, TimedOut: true, Err: errors.New("127.0.0.1: read reply: i/o timeout"),
			Phases: []probes.Phase{{Name: "resolve", Duration: 0}, {Name: "setup", Duration: 100 * time.Microsecond}, {Name: "rtt", Duration: 10 * time.Second}}},
	},
}

// exposition renders the registry and m's per-check families as one
// client_golang registry would (families sorted by name, series by labels).
func exposition(t *testing.T, reg *prometheus.Registry, m *Metrics) []byte {
	t.Helper()
	mfs, err := expo.New(reg, nil, m).Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// stable hides vigil_build_info's labels, which change with the toolchain.
func stable(b []byte) []byte {
	return regexp.MustCompile(`vigil_build_info\{[^}]*\}`).ReplaceAll(b, []byte("vigil_build_info{...}"))
}

// TestGoldenExpositionPerKind pins each kind's series in each profile:
// testdata/<kind>.txt is full (every series), <kind>.standard.txt and
// <kind>.basic.txt the smaller profiles.
func TestGoldenExpositionPerKind(t *testing.T) {
	for kind, results := range goldenCases {
		for _, profile := range []Profile{ProfileFull, ProfileStandard, ProfileBasic} {
			t.Run(kind+"/"+profile.String(), func(t *testing.T) {
				reg := prometheus.NewRegistry()
				m := NewMetrics(reg, prometheus.Labels{"region": "kr-central-1", "datacenter": "pangyo"})
				cm := m.Check("talk", "message-send-receive", "check-"+kind, kind)
				cm.SetSchedule(30*time.Second, 10*time.Second)
				cm.SetProfile(profile)
				for _, r := range results {
					cm.Observe(r)
				}
				// What the scrape path writes is what client_golang would, in
				// both formats.
				expotest.CheckEquivalent(t, m)
				raw := exposition(t, reg, m)
				got := stable(raw)
				golden := filepath.Join("testdata", kind+".txt")
				if profile != ProfileFull {
					golden = filepath.Join("testdata", kind+"."+profile.String()+".txt")
				}
				checkGolden(t, golden, got)
				promtoolCheck(t, raw)
			})
		}
	}
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/export -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("exposition differs from %s (go test ./internal/export -update after checking):\n%s", golden, diff(string(want), string(got)))
	}
}

func TestForgetRemovesEverySeriesOfACheck(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, nil)
	for kind, results := range goldenCases {
		cm := m.Check("s", "f", kind, kind)
		cm.SetSchedule(time.Second, time.Second/2)
		for _, r := range results {
			cm.Observe(r)
		}
		cm.Forget()
	}
	out := string(exposition(t, reg, m))
	if strings.Contains(out, `check="`) {
		t.Fatalf("series left after Forget:\n%s", out)
	}
}

// promtoolCheck runs `promtool check metrics` on the exposition, in a subtest
// of its own; it must print nothing. Without promtool that subtest is skipped
// loudly (fails under CI=true) and the caller goes on.
func promtoolCheck(t *testing.T, exposition []byte) {
	t.Helper()
	t.Run("promtool check metrics", func(t *testing.T) {
		cmd := exec.Command(testenv.NeedTool(t, "promtool", "prometheus"), "check", "metrics")
		cmd.Stdin = bytes.NewReader(exposition)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})
}

func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("- " + wl + "\n+ " + gl + "\n")
		}
	}
	return b.String()
}

// TestObserveWhileScraping: results recorded while scrapes run (the agent's
// normal life) are race-free and every run is counted once. The other checks
// make the scrape render its families on several goroutines (expo.Each).
func TestObserveWhileScraping(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, prometheus.Labels{"region": "kr-central-1"})
	for i := range 300 {
		m.Check("talk", fmt.Sprintf("other%03d", i), "api", "http").Observe(goldenCases["http"][0])
	}
	const runs = 500
	done := make(chan struct{})
	go func() {
		defer close(done)
		cm := m.Check("talk", "f", "api", "http")
		for i := range runs {
			r := *goldenCases["http"][i%2]
			cm.Observe(&r)
		}
	}()
	for scraping := true; scraping; {
		select {
		case <-done:
			scraping = false
		default:
		}
		if err := expo.New(reg, nil, m).Write(io.Discard, true); err != nil {
			t.Fatal(err)
		}
	}
	out := string(exposition(t, reg, m))
	for _, want := range []string{
		`vigil_check_duration_seconds_count{check="api",feature="f",kind="http",region="kr-central-1",service="talk"} 500`,
		`vigil_check_runs_total{check="api",feature="f",kind="http",region="kr-central-1",result="success",service="talk"} 250`,
		`vigil_check_runs_total{check="api",feature="f",kind="http",region="kr-central-1",result="timeout",service="talk"} 250`,
		// 42ms runs fall in le=0.05 (inclusive upper bounds), 10s runs in le=10.
		`vigil_check_duration_seconds_bucket{check="api",feature="f",kind="http",region="kr-central-1",service="talk",le="0.05"} 250`,
		`vigil_check_duration_seconds_bucket{check="api",feature="f",kind="http",region="kr-central-1",service="talk",le="10"} 500`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
}
