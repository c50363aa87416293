package main

import (
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/bench/internal/target"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRawAnswersAsNetHTTP has Go's HTTP client (what Vigil's http probe
// uses) ask the raw target, and a TCP connect probe connect and close
// without a request, on two ports of 127.0.0.1.
func TestRawAnswersAsNetHTTP(t *testing.T) {
	s, err := serveRaw([]string{"127.0.0.1"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if len(s.addrs) != 2 || s.addrs[0] == s.addrs[1] {
		t.Fatalf("addrs = %v, want two ports", s.addrs)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	for _, addr := range s.addrs {
		// A connect probe: nothing sent, closed at once.
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		for _, path := range []string{"/", "/health?x=1"} {
			resp, err := client.Get("http://" + addr + path)
			if err != nil {
				t.Fatalf("GET %s%s: %v", addr, path, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(body) != target.HealthBody ||
				resp.Header.Get("Content-Type") != "application/json" || resp.ContentLength != int64(len(target.HealthBody)) || !resp.Close {
				t.Errorf("GET %s%s = %d %q (%v), headers %v, close %v; want 200 with the health body, then close",
					addr, path, resp.StatusCode, body, err, resp.Header, resp.Close)
			}
		}
	}
}

// TestRawRefusesAnEndlessHead closes a connection whose request head does
// not end within rawRequestMax bytes, answering nothing.
func TestRawRefusesAnEndlessHead(t *testing.T) {
	s, err := serveRaw([]string{"127.0.0.1"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	c, err := net.DialTimeout("tcp", s.addrs[0], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	head := make([]byte, rawRequestMax)
	for i := range head {
		head[i] = 'a'
	}
	if _, err := c.Write(head); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if len(got) != 0 {
		t.Errorf("read %q (%v) after an endless head, want nothing", got, err)
	}
}
