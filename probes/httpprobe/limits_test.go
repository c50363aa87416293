package httpprobe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testpki"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// hostileCap bounds what a hostile test server writes on one connection, so
// that a client without limits fails its test rather than the machine.
const hostileCap = 64 << 20

// rawServer serves every connection on 127.0.0.1 with serve, which returns the
// bytes it wrote; written receives each connection's count. With cert set it
// speaks TLS. The connection is closed when serve returns or the test ends.
func rawServer(t *testing.T, cert *tls.Certificate, serve func(net.Conn) int64) (addr string, written <-chan int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}})
	}
	counts := make(chan int64, 16)
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
				n := serve(c)
				select {
				case counts <- n:
				default:
				}
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
	return ln.Addr().String(), counts
}

// writeHead writes the status line and then fill, repeated, until the client
// goes away or hostileCap bytes are written; it returns the bytes written.
func writeHead(c net.Conn, fill []byte) int64 {
	// Answer only once the request has come, as a server does: a response
	// that comes first is one net/http's transport calls unsolicited, and it
	// drops the connection with another error (1 run in 5 over TLS).
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return 0
		}
		if line == "\r\n" {
			break
		}
	}
	go io.Copy(io.Discard, br) // anything more; ends when c is closed
	n, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Endless: ")
	written := int64(n)
	for err == nil && written < hostileCap {
		n, err = c.Write(fill)
		written += int64(n)
	}
	return written
}

// endlessLine is one header line that never ends.
func endlessLine(c net.Conn) int64 {
	return writeHead(c, bytes.Repeat([]byte{'a'}, 32<<10))
}

// endlessLines is header lines of 1 KB each, without end.
func endlessLines(c net.Conn) int64 {
	var b bytes.Buffer
	for i := range 32 {
		fmt.Fprintf(&b, "1\r\nX-Fill-%d: %s", i, strings.Repeat("b", 1000))
	}
	return writeHead(c, b.Bytes())
}

// TestResponseHeaderLimit: a target sending endless response headers fails the
// run at max_response_header_bytes, at once and with little memory, on the
// direct path and through the transport (https); a head within the limit
// passes.
func TestResponseHeaderLimit(t *testing.T) {
	ca := testpki.NewCA(t, "Vigil Test CA")
	leaf := serverLeaf(t, ca)
	line, lineWritten := rawServer(t, nil, endlessLine)
	lines, linesWritten := rawServer(t, nil, endlessLines)
	tlsLine, tlsLineWritten := rawServer(t, &leaf, endlessLine)
	tlsLines, tlsLinesWritten := rawServer(t, &leaf, endlessLines)
	big := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for i := range 100 { // 100 KB of headers
			w.Header().Set(fmt.Sprintf("X-Fill-%d", i), strings.Repeat("c", 1000))
		}
		_, _ = io.WriteString(w, "ok")
	}))

	tests := []struct {
		name    string
		url     string
		limit   int64
		written <-chan int64
		wantErr string // "" for success
	}{
		{"one endless line", "http://" + line, 0, lineWritten, "response headers exceed max_response_header_bytes (1048576)"},
		{"endless 1 KB lines", "http://" + lines, 0, linesWritten, "response headers exceed max_response_header_bytes (1048576)"},
		{"smaller limit", "http://" + lines, 64 << 10, linesWritten, "response headers exceed max_response_header_bytes (65536)"},
		{"one endless line over TLS", "https://" + tlsLine, 0, tlsLineWritten, "response headers exceed max_response_header_bytes (1048576)"},
		{"endless lines over TLS", "https://" + tlsLines, 64 << 10, tlsLinesWritten, "response headers exceed max_response_header_bytes (65536)"},
		{"100 KB of headers within the default", big.URL, 0, nil, ""},
		{"100 KB of headers over a 64 KiB limit", big.URL, 64 << 10, nil, "response headers exceed max_response_header_bytes (65536)"},
	}
	const timeout = 5 * time.Second
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProber(t, &Config{URL: tt.url, MaxResponseHeaderBytes: tt.limit, TLSConfig: probeconfig.TLSConfig{CAFile: ca.PEMFile}})
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := p.Probe(ctx)
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %d KiB in %v: %v", allocated>>10, r.Duration, r.Err)

			if tt.wantErr == "" {
				wantSuccess(t, r)
				return
			}
			wantError(t, r, tt.wantErr)
			if r.TimedOut || r.Duration > timeout/2 {
				t.Errorf("TimedOut %v after %v: want a prompt failure at the limit", r.TimedOut, r.Duration)
			}
			// The client side of the run: a few times the limit (a line
			// grows by doubling) plus TLS; the server writes from one buffer.
			if allocated > 16<<20 {
				t.Errorf("run allocated %d MiB, want under 16 MiB", allocated>>20)
			}
			if tt.written == nil {
				return
			}
			select {
			case n := <-tt.written:
				// Loopback socket buffers hold a few MiB the client never read.
				if n >= hostileCap {
					t.Errorf("server wrote all of its %d MiB: the client read on", n>>20)
				}
			case <-time.After(5 * time.Second):
				t.Error("the server was still writing 5s after the run ended: the connection was not closed")
			}
		})
	}
}

// stalledHeadServer sends part of a response head, then nothing until the
// test ends.
func stalledHeadServer(t *testing.T) string {
	release := make(chan struct{})
	addr, _ := rawServer(t, nil, func(c net.Conn) int64 {
		_, _ = bufio.NewReader(c).ReadString('\n') // the request line
		n, _ := io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Partial: 1\r\n")
		<-release
		return int64(n)
	})
	t.Cleanup(func() { close(release) }) // runs before rawServer's
	return addr
}

// TestStatusLineCutByTheDeadline: a server that sends part of its status line
// and stalls times the run out with the deadline as the cause, not the
// parser's complaint about the part it got ("malformed HTTP status code").
func TestStatusLineCutByTheDeadline(t *testing.T) {
	release := make(chan struct{})
	addr, _ := rawServer(t, nil, func(c net.Conn) int64 {
		_, _ = bufio.NewReader(c).ReadString('\n') // the request line
		n, _ := io.WriteString(c, "HTTP/1.")
		<-release
		return int64(n)
	})
	t.Cleanup(func() { close(release) })
	p := newProber(t, &Config{URL: "http://" + addr + "/"})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	r := p.Probe(ctx)
	if r.Success || !r.TimedOut || r.Err == nil {
		t.Fatalf("run: success %v, timed out %v, %v; want a timeout", r.Success, r.TimedOut, r.Err)
	}
	msg := r.Err.Error()
	if !strings.Contains(msg, "timed out reading the response headers: i/o timeout") || strings.Contains(msg, "malformed") {
		t.Errorf("error %q, want the deadline as the cause while reading headers", msg)
	}
}
