package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/vigil-monitoring/vigil/internal/testenv"
)

var vigilBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vigil-bin-")
	if err != nil {
		panic(err)
	}
	vigilBin = filepath.Join(dir, "vigil")
	if out, err := exec.Command("go", "build", "-o", vigilBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestExitCodesAndConfigCheck(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("agent:\n  region: kr-central-1\n  labls: {}\nservices: []\n"), 0o600)
	empty := filepath.Join(dir, "empty.yml")
	os.WriteFile(empty, nil, 0o600)
	canaries := filepath.Join(dir, "canaries.yml")
	os.WriteFile(canaries, []byte(`agent:
  region: kr-central-1
  canaries:
    - {name: gateway, tcp: {target: "127.0.0.1:1"}}
    - {name: resolver, dns: {server: "127.0.0.1:53", query_name: example.com}}
services:
  - name: talk
    features:
      - name: api
        checks:
          - {name: api, http: {url: "http://127.0.0.1:1/"}}
`), 0o600)
	noBrowser := filepath.Join(dir, "browser.yml")
	os.WriteFile(noBrowser, []byte(`agent: {region: kr-central-1, browser: {path: /nonexistent/chromium}}
services:
  - name: map
    features:
      - name: roadview
        checks:
          - {name: page, browser: {url: "http://127.0.0.1:1/"}}
`), 0o600)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"no browser for a browser check", []string{"--config.check", "--config.file=" + noBrowser}, 1, noBrowser + ": agent.browser: "},
		{"valid example", []string{"--config.check", "--config.file=../../examples/minimal.yml"}, 0, "ok, 1 services, 1 checks"},
		{"canaries counted", []string{"--config.check", "--config.file=" + canaries}, 0, "ok, 1 services, 1 checks, 2 canaries"},
		{"misspelled key", []string{"--config.check", "--config.file=" + bad}, 1, bad + `:3: agent.labls: unknown key "labls" (did you mean "labels"?)`},
		{"all errors at once", []string{"--config.check", "--config.file=" + bad}, 1, "services: at least one service is required"},
		{"empty file", []string{"--config.check", "--config.file=" + empty}, 1, empty + ": config is empty"},
		{"missing file", []string{"--config.check", "--config.file=" + filepath.Join(dir, "nope.yml")}, 1, "cannot read config"},
		{"unknown flag", []string{"--no.such.flag"}, 2, "flag provided but not defined"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"bad shard", []string{"--agent.shard=3/2"}, 2, `--agent.shard: "3/2" is not I/N`},
		{"version", []string{"version"}, 0, "vigil "},
		{"report bad format", []string{"report", "--storage.path=" + dir, "--format=docx"}, 2, `--format "docx"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(vigilBin, tt.args...)
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != tt.wantCode || !strings.Contains(string(out), tt.wantOut) {
				t.Fatalf("vigil %s: exit %d, output:\n%s\nwant exit %d with %q", strings.Join(tt.args, " "), code, out, tt.wantCode, tt.wantOut)
			}
		})
	}
}

// loopbackExample rewrites examples/vigil.yml so every target is a real loopback
// server: HTTP hosts to an httptest server, DNS to a miekg/dns server, NATS to
// the machine's NATS.
func loopbackExample(t *testing.T, httpURL, dnsAddr, natsURL string) string {
	t.Helper()
	src, err := os.ReadFile("../../examples/vigil.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`https://[a-z0-9.-]+\.example`).ReplaceAllString(string(src), httpURL)
	s = strings.ReplaceAll(s, "ns1.kakao.example:53", dnsAddr)
	s = strings.ReplaceAll(s, "nats://nats.talk.kakao.example:4222", natsURL)
	return s
}

func startDNS(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) }, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		switch q.Qtype {
		case dns.TypeA:
			rr, _ := dns.NewRR(q.Name + " 60 IN A 127.0.0.1")
			m.Answer = append(m.Answer, rr)
		case dns.TypeMX:
			rr, _ := dns.NewRR(q.Name + " 60 IN MX 10 mx." + q.Name)
			m.Answer = append(m.Answer, rr)
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func requireNATS(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("VIGIL_TEST_NATS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:4222"
	}
	testenv.NeedTCP(t, addr, "NATS (VIGIL_TEST_NATS_ADDR)")
	return "nats://" + addr
}

func scrape(addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestAgentRunsExampleConfigAgainstLoopback(t *testing.T) {
	natsURL := requireNATS(t)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/health" && strings.Contains(r.Host, "127.0.0.1") && r.Header.Get("Authorization") != "" &&
			r.Header.Get("Authorization") != "Bearer example-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintln(w, `{"status": "ok"}`)
	}))
	defer api.Close()
	dir := t.TempDir()
	cfg := loopbackExample(t, api.URL, startDNS(t), natsURL)
	// Second-scale intervals so the test sees every check run.
	cfg = strings.Replace(cfg, "interval: 30s\n  timeout: 10s", "interval: 1s\n  timeout: 500ms", 1)
	cfg = strings.Replace(cfg, "interval: 10s\n            timeout: 5s", "interval: 1s\n            timeout: 500ms", 1)
	cfgFile := filepath.Join(dir, "vigil.yml")
	os.WriteFile(cfgFile, []byte(cfg), 0o600)
	addr := testenv.FreeAddr(t)
	var stderr syncBuffer
	cmd := exec.Command(vigilBin, "--config.file="+cfgFile, "--web.listen-address="+addr, "--storage.path="+filepath.Join(dir, "data"), "--log.level=debug")
	cmd.Env = append(os.Environ(), "PAY_HEALTH_TOKEN=example-token")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("agent log:\n%s", stderr.String())
		}
	}()

	// Every check of the example reports up.
	checks := 15
	var body string
	testenv.Poll(20*time.Second, func() bool {
		body = scrape(addr)
		return strings.Count(body, "\nvigil_check_up{") == checks && !regexp.MustCompile(`\nvigil_check_up\{[^}]*\} 0`).MatchString(body)
	})
	if n := strings.Count(body, "\nvigil_check_up{"); n != checks {
		t.Fatalf("%d vigil_check_up series, want %d:\n%s", n, checks, body)
	}
	if m := regexp.MustCompile(`\nvigil_check_up\{[^}]*\} 0`).FindAllString(body, -1); len(m) > 0 {
		t.Fatalf("checks down against healthy loopback targets: %v", m)
	}
	for _, want := range []string{
		`vigil_feature_state{datacenter="pangyo",feature="message-send-receive",region="kr-central-1",service="talk",state="up"} 1`,
		`vigil_messages_sent_total{check="nats-roundtrip",datacenter="pangyo",feature="message-send-receive",kind="messaging",region="kr-central-1",service="talk"}`,
		`vigil_dns_answer_rrs{check="mx",datacenter="pangyo",feature="mail",kind="dns",region="kr-central-1",service="daum"} 1`,
		`vigil_sla_objective_ratio{datacenter="pangyo",feature="payment",region="kr-central-1",service="pay"} 0.9995`,
		`vigil_build_info{`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body+stderr.String(), "example-token") {
		t.Error("the bearer token appears in /metrics or the logs")
	}
	// In a subtest: without promtool only this check is skipped (loudly).
	t.Run("promtool check metrics", func(t *testing.T) {
		c := exec.Command(testenv.NeedTool(t, "promtool", "prometheus"), "check", "metrics")
		c.Stdin = strings.NewReader(body)
		if out, err := c.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics on the agent's /metrics: %v\n%s", err, out)
		}
	})

	// SIGHUP with a broken file: refused, the agent keeps running.
	os.WriteFile(cfgFile, []byte(cfg+"  - name: Broken\n"), 0o600)
	_ = cmd.Process.Signal(syscall.SIGHUP)
	refused := `vigil_config_last_reload_successful{datacenter="pangyo",region="kr-central-1"} 0`
	if !testenv.Poll(5*time.Second, func() bool { return strings.Contains(scrape(addr), refused) }) {
		t.Fatal("a bad SIGHUP reload did not set vigil_config_last_reload_successful to 0")
	}

	// SIGTERM: stops cleanly with exit 0.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("agent exited with %v after SIGTERM, want 0\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop within 10s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), "config reload refused") {
		t.Errorf("the refused reload was not logged")
	}
}

// syncBuffer is a bytes.Buffer safe to read while a child process writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
