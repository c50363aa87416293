package msgprobe

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// hostileCap bounds what a hostile test peer sends, so that a client without
// limits fails its test rather than the machine.
const hostileCap = 64 << 20

// flood writes fill to w until a write fails or hostileCap bytes are out.
func flood(w io.Writer, fill []byte) int64 {
	var written int64
	for written < hostileCap {
		n, err := w.Write(fill)
		written += int64(n)
		if err != nil {
			break
		}
	}
	return written
}

// rawPeer serves every connection on 127.0.0.1 with serve, and closes them
// all when the test ends.
func rawPeer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln := listenLoopback(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for { // ends when the listener is closed
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				serve(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// runBounded runs cfg once with a 10 s timeout and checks that it failed
// within half of it, not as a timeout, with every part of want in its error,
// having allocated under 16 MiB or 6 times max_message_bytes (the hostile
// peers offer 64; io.ReadAll's growth allocates 5 times what it reads), and
// that closing the transport took under a second.
func runBounded(t *testing.T, cfg *Config, want ...string) *probes.Result {
	t.Helper()
	const timeout = 10 * time.Second
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	r := runRoundTripWith(t, cfg, testOptions(t), timeout)
	closed := time.Since(start)
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB in %v (%v with Close): %v", allocated>>10, r.Duration, closed, r.Err)
	if r.Success || r.Err == nil {
		t.Fatal("run passed, want a failure")
	}
	for _, w := range want {
		if !strings.Contains(r.Err.Error(), w) {
			t.Errorf("error %q does not contain %q", r.Err, w)
		}
	}
	if r.TimedOut || r.Duration > timeout/2 {
		t.Errorf("TimedOut %v after %v: want a prompt failure at the limit", r.TimedOut, r.Duration)
	}
	limit := cfg.maxMessageBytes(defaultMaxMessageBytes)
	if cfg.Protocol == "http" {
		limit = cfg.maxMessageBytes(defaultHTTPMaxBody)
	}
	if most := max(16<<20, 6*limit); allocated > uint64(most) {
		t.Errorf("run allocated %d MiB, want under %d MiB", allocated>>20, most>>20)
	}
	if closed > r.Duration+time.Second {
		t.Errorf("the run took %v and %v with Close: want Close within a second", r.Duration, closed)
	}
	return r
}

// TestWebSocketMessageLimit: an endpoint that answers with a message that
// never ends, or one over max_message_bytes, fails the run at once with the
// limit's error, having read no more than the limit.
func TestWebSocketMessageLimit(t *testing.T) {
	tests := []struct {
		name  string
		limit int64
		size  int64 // of the answer; 0 for endless
		want  string
	}{
		{"endless message", 0, 0, "websocket message exceeds max_message_bytes (1048576)"},
		{"message over a small limit", 4096, 5000, "websocket message exceeds max_message_bytes (4096)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, err := websocket.Accept(w, r, nil)
				if err != nil {
					return
				}
				defer conn.CloseNow()
				if _, _, err := conn.Read(r.Context()); err != nil {
					return
				}
				mw, err := conn.Writer(r.Context(), websocket.MessageText)
				if err != nil {
					return
				}
				if tt.size > 0 {
					_, _ = mw.Write(bytes.Repeat([]byte{'w'}, int(tt.size)))
					_ = mw.Close()
				} else {
					flood(mw, bytes.Repeat([]byte{'w'}, 32<<10))
				}
				_, _, _ = conn.Read(r.Context()) // until the client is gone
			}))
			t.Cleanup(srv.Close)
			cfg := &Config{Protocol: "websocket", URL: "ws" + strings.TrimPrefix(srv.URL, "http"), MaxMessageBytes: tt.limit}
			runBounded(t, cfg, "receive from ws://127.0.0.1:", tt.want)
		})
	}
}

// TestHTTPBodyLimit: a receive url whose body never ends (at once or from the
// second poll), or an event stream whose event never ends, fails the run with
// max_message_bytes' error instead of being read whole or cut silently.
func TestHTTPBodyLimit(t *testing.T) {
	endless := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/plain")
		flood(w, bytes.Repeat([]byte("vigil1.noise "), 2500))
	}
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			_, _ = io.WriteString(w, `{"ok":true}`)
		case r.URL.Path == "/endless":
			endless(w)
		case r.URL.Path == "/later" && gets.Add(1) == 1:
			_, _ = io.WriteString(w, "[]")
		case r.URL.Path == "/later":
			endless(w)
		case r.URL.Path == "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			w.(http.Flusher).Flush()
			flood(w, bytes.Repeat([]byte("data: more\n"), 3000)) // no blank line: one event
		}
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name, path, mode string
		limit            int64
		want             []string
	}{
		{"endless body at subscribe", "/endless", "poll", 0,
			[]string{"subscribe " + srv.URL + ": read " + srv.URL + "/endless: response body exceeds max_message_bytes (8388608)"}},
		{"endless body while polling", "/later", "poll", 1 << 20,
			[]string{"receive from " + srv.URL + ": read " + srv.URL + "/later: response body exceeds max_message_bytes (1048576)"}},
		{"endless event", "/events", "sse", 1 << 20,
			[]string{"receive from " + srv.URL + ": read " + srv.URL + "/events: event exceeds max_message_bytes (1048576)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &Config{Protocol: "http", URL: srv.URL, MaxMessageBytes: tt.limit,
				HTTPOptions: HTTPOptions{Receive: HTTPReceiveOptions{Mode: tt.mode, URL: srv.URL + tt.path, Interval: probeconfig.Duration(20 * time.Millisecond)}}}
			runBounded(t, cfg, tt.want...)
		})
	}
}

// TestMailLineLimit: an IMAP server whose greeting never ends, or an SMTP
// server whose EHLO reply goes on line after line, fails the run at
// max_message_bytes instead of growing the client's buffer until the timeout.
func TestMailLineLimit(t *testing.T) {
	endlessIMAP := rawPeer(t, func(c net.Conn) {
		go io.Copy(io.Discard, c) // ends when c is closed
		_, _ = io.WriteString(c, "* OK ")
		flood(c, bytes.Repeat([]byte{'i'}, 32<<10))
	})
	endlessSMTP := rawPeer(t, func(c net.Conn) {
		_, _ = io.WriteString(c, "220 localhost ESMTP\r\n")
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil { // EHLO
			return
		}
		go io.Copy(io.Discard, c)
		flood(c, bytes.Repeat([]byte("250-"+strings.Repeat("s", 996)+"\r\n"), 32))
	})
	tests := []struct {
		name string
		edit func(cfg *Config)
		want []string
	}{
		{"IMAP greeting never ends", func(cfg *Config) { cfg.IMAPURL = "imap://" + endlessIMAP },
			[]string{"imap " + endlessIMAP + ": greeting: imap response exceeds max_message_bytes (1048576)"}},
		{"SMTP reply never ends", func(cfg *Config) { cfg.URL = "smtp://" + endlessSMTP },
			[]string{"smtp " + endlessSMTP + ": ehlo: smtp reply exceeds max_message_bytes (1048576)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := newMailServers(t, mailTLSNone).config()
			tt.edit(cfg)
			runBounded(t, cfg, tt.want...)
		})
	}
}

// TestCappedConn: reads stop with errReadCap once the budget is spent, and a
// refill gives the next command a whole one.
func TestCappedConn(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	go func() {
		defer server.Close()
		_, _ = server.Write(bytes.Repeat([]byte{'x'}, 100))
	}()
	c := newCappedConn(client, 10)
	got, err := io.ReadAll(c)
	if len(got) != 10 || err != errReadCap || !c.spent() {
		t.Fatalf("read %d bytes, err %v, spent %v: want 10, errReadCap, true", len(got), err, c.spent())
	}
	tooBig := c.capError("imap response", err)
	if tooBig.Error() != "imap response exceeds max_message_bytes (10)" {
		t.Errorf("capError = %q", tooBig)
	}
	c.refill()
	got, err = io.ReadAll(io.LimitReader(c, 5))
	if len(got) != 5 || err != nil || c.spent() {
		t.Errorf("after refill: read %d bytes, err %v, spent %v: want 5, nil, false", len(got), err, c.spent())
	}
	if c.capError("x", context.Canceled) != context.Canceled {
		t.Error("capError changed an error while budget was left")
	}
}
