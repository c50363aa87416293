package httpprobe

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/vigil-monitoring/vigil/probes"
)

// healthBody is a typical health endpoint's answer.
const healthBody = `{"status": "ok", "checks": {"db": "ok", "cache": "ok"}}`

func benchProbe(b *testing.B, p *Prober) {
	b.Helper()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if r := p.Probe(ctx); !r.Success {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkProbe is one run against a loopback server over plain HTTP: a new
// connection, the request, a small body (server side included in the figures).
func BenchmarkProbe(b *testing.B) {
	ts := newServer(b, reply(200, healthBody))
	benchProbe(b, newProber(b, &Config{URL: ts.URL + "/health"}))
}

// BenchmarkProbeTLS is the same over TLS 1.3 with a verified certificate.
func BenchmarkProbeTLS(b *testing.B) {
	ca := newCA(b, "Vigil Bench CA")
	ts := newTLSServer(b, reply(200, healthBody), ca.leaf(b, nil), nil)
	benchProbe(b, newProber(b, &Config{URL: ts.URL + "/health", TLSConfig: probes.TLSConfig{CAFile: ca.pemFile}}))
}

// BenchmarkBaseline gives the floors BenchmarkProbe is judged against: a bare
// dial/write/read loop, and net/http's client without keep-alives.
func BenchmarkBaseline(b *testing.B) {
	ts := newServer(b, reply(200, healthBody))
	addr := ts.Listener.Addr().String()
	b.Run("bare-loop", func(b *testing.B) {
		request := "GET /health HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n\r\n"
		b.ReportAllocs()
		for b.Loop() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.WriteString(conn, request); err != nil {
				b.Fatal(err)
			}
			// The server closes after the response (Connection: close).
			if _, err := io.Copy(io.Discard, conn); err != nil {
				b.Fatal(err)
			}
			conn.Close()
		}
	})
	b.Run("net-http-client", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Get(ts.URL + "/health")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
