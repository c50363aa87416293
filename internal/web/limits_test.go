package web

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestIdleConnectionsAreClosed: a keep-alive connection left idle, also one
// whose request was refused, is closed by the server (issue 14: they stayed
// open forever and took the probes' file descriptors).
func TestIdleConnectionsAreClosed(t *testing.T) {
	b := newBackend(t)
	s := New(b, Options{ListenAddress: "127.0.0.1:0", IdleTimeout: 200 * time.Millisecond, Region: "kr-central-1"})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(t.Context())
	for _, path := range []string{"/-/healthy", "/no-such-page"} {
		conn, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: vigil\r\n\r\n", path)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		// The connection is now idle; the server must close it. The deadline
		// only bounds the test: without an idle timeout the read blocks to it.
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := br.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("%s: idle keep-alive connection: read %d bytes, %v; want the server to close it (EOF)", path, n, err)
		}
	}
}

// TestConnectionsAreCapped: the server never holds more connections than
// MaxConnections; the others wait to be accepted and are served later.
func TestConnectionsAreCapped(t *testing.T) {
	const limit, clients = 3, 12
	b := newBackend(t)
	s := New(b, Options{ListenAddress: "127.0.0.1:0", MaxConnections: limit, ReadHeaderTimeout: 100 * time.Millisecond,
		Region: "kr-central-1"})
	var open, peak atomic.Int64
	s.srv.ConnState = func(_ net.Conn, state http.ConnState) {
		switch state {
		case http.StateNew:
			n := open.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(t.Context())
	// Clients that connect and say nothing, as a careless or hostile one does.
	var wg sync.WaitGroup
	for range clients {
		conn, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, _ = io.Copy(io.Discard, conn) // until the server closes it
		})
	}
	wg.Wait()
	// net/http runs a connection's StateClosed hook after closing it, and
	// the close frees the listener's slot: one accepted connection may be
	// counted before the one it replaced is counted out. Without the limit
	// the peak is all twelve.
	if p := peak.Load(); p > limit+1 {
		t.Errorf("server held %d connections at once, want at most %d", p, limit)
	}
	if p := peak.Load(); p == 0 {
		t.Error("server accepted no connection")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + s.Addr() + "/-/healthy")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after the silent clients: /-/healthy = %d", resp.StatusCode)
	}
}

func TestDefaultMaxConnectionsLeavesFilesForProbes(t *testing.T) {
	for _, tt := range []struct {
		nofile uint64
		want   int
	}{{256, 64}, {1024, 256}, {65536, 512}, {20, 16}} {
		if got := DefaultMaxConnections(tt.nofile); got != tt.want {
			t.Errorf("DefaultMaxConnections(%d) = %d, want %d", tt.nofile, got, tt.want)
		}
	}
}

// TestTimeParametersAreStrict: the API reads times as `vigil report` does:
// a month or a day as `to` is the whole of it, and nonsense is a 400 that
// names the value (issue 14: NaN, Inf, 1e300 read as 1677; 12abc as 12 s).
func TestTimeParametersAreStrict(t *testing.T) {
	s := startServer(t, newBackend(t), "")
	get := func(query string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get("http://" + s.Addr() + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return resp.StatusCode, body
	}
	code, body := get("/api/v1/report?from=2026-11&to=2026-11")
	if code != http.StatusOK {
		t.Fatalf("report of one month: %d %v", code, body)
	}
	if body["from"] != "2026-11-01T00:00:00Z" || body["to"] != "2026-12-01T00:00:00Z" {
		t.Errorf("report of 2026-11: from %v to %v, want the whole month", body["from"], body["to"])
	}
	for _, q := range []string{
		"/api/v1/report?from=NaN", "/api/v1/report?to=Inf", "/api/v1/report?from=1e300",
		"/api/v1/report?from=9223372036854775807", "/api/v1/outages?since=12abc", "/api/v1/outages?until=1_000",
		"/api/v1/incidents?since=%20123", "/api/v1/report?from=2026-12&to=2026-11",
	} {
		code, body := get(q)
		value := q[strings.IndexByte(q, '=')+1:]
		value = strings.ReplaceAll(value, "%20", " ")
		if i := strings.IndexByte(value, '&'); i >= 0 {
			value = value[:i]
		}
		msg, _ := body["error"].(string)
		if code != http.StatusBadRequest || !strings.Contains(msg, value) {
			t.Errorf("%s: %d %q, want 400 naming %q", q, code, msg, value)
		}
	}
}
