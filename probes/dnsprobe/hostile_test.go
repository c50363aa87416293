package dnsprobe

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// hostileTCP serves every TCP connection on 127.0.0.1 with serve until the
// test ends; done is closed first, so a serve that waits on it returns.
func hostileTCP(t *testing.T, serve func(c net.Conn, done <-chan struct{})) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for { // ends when the listener is closed
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				serve(c, done)
			})
		}
	})
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// TestHostileTCPServer: DNS over TCP reads a 2-byte length and at most that
// many bytes (65535), so a server that dribbles its answer fails the run by
// its timeout, and one that sends garbage, or more than it announced, fails it
// at once with a clear error, never reading more.
func TestHostileTCPServer(t *testing.T) {
	dribble := hostileTCP(t, func(c net.Conn, done <-chan struct{}) {
		if _, err := c.Write([]byte{0xff, 0xff}); err != nil {
			return
		}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for range 65535 {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if _, err := c.Write([]byte{0}); err != nil {
				return
			}
		}
	})
	flood := hostileTCP(t, func(c net.Conn, _ <-chan struct{}) {
		fill := bytes.Repeat([]byte{0xab}, 32<<10)
		_, err := c.Write([]byte{0xff, 0xff})
		for written := 0; err == nil && written < 64<<20; written += len(fill) {
			_, err = c.Write(fill)
		}
	})
	short := hostileTCP(t, func(c net.Conn, _ <-chan struct{}) {
		_, _ = c.Write([]byte{0, 5, 1, 2, 3, 4, 5})
	})
	cut := hostileTCP(t, func(c net.Conn, _ <-chan struct{}) {
		// Read the query first: closing with it unread would reset the
		// connection rather than end it.
		var length [2]byte
		if _, err := io.ReadFull(c, length[:]); err != nil {
			return
		}
		if _, err := io.ReadFull(c, make([]byte, int(length[0])<<8|int(length[1]))); err != nil {
			return
		}
		_, _ = c.Write([]byte{0x10, 0x00, 1, 2, 3})
	})

	const timeout = 300 * time.Millisecond
	tests := []struct {
		name, addr, want, also string
		timedOut               bool
	}{
		{"dribbles a 65535-byte answer", dribble, "read answer: i/o timeout", "", true},
		{"floods garbage past the announced length", flood, "answer id ", " does not match query id ", false},
		{"a 5-byte answer", short, "short answer of 5 bytes", "", false},
		{"closes inside the answer", cut, "read answer: unexpected EOF", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProber(t, &Config{Server: tt.addr, QueryName: "talk.example.com", TransportProtocol: "tcp"})
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			r := probeWithin(p, timeout)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %d KiB in %v: %v", allocated>>10, elapsed, r.Err)

			want := "dns probe talk/message/dns: query talk.example.com A @" + tt.addr + "/tcp: " + tt.want
			if r.Success || r.Err == nil || !strings.Contains(r.Err.Error(), want) || !strings.Contains(r.Err.Error(), tt.also) {
				t.Fatalf("error %v, want one containing %q and %q", r.Err, want, tt.also)
			}
			if r.TimedOut != tt.timedOut {
				t.Errorf("TimedOut = %v, want %v", r.TimedOut, tt.timedOut)
			}
			// By its timeout at the latest (a loaded CI machine may wake
			// the run late), at once when it need not wait.
			if elapsed > timeout+200*time.Millisecond || (!tt.timedOut && elapsed >= timeout) {
				t.Errorf("run took %v, want at most the %v timeout", elapsed, timeout)
			}
			// One answer buffer of at most 64 KiB, whatever the server sends.
			if allocated > 1<<20 {
				t.Errorf("run allocated %d KiB, want under 1 MiB", allocated>>10)
			}
		})
	}
}
