package httpprobe

import (
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	promconfig "github.com/prometheus/common/config"

	"github.com/vigil-monitoring/vigil/internal/testpki"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
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

// BenchmarkProbeContext is BenchmarkProbe in a context of its own per run:
// "timeout" a context.WithTimeout (the probe watches it for cancellation),
// "scheduled" probes.NewRunContext's, as internal/schedule passes it (the
// sockets' deadline is the whole watch, and the context's timer is never
// made).
func BenchmarkProbeContext(b *testing.B) {
	ts := newServer(b, reply(200, healthBody))
	p := newProber(b, &Config{URL: ts.URL + "/health"})
	for _, scheduled := range []bool{false, true} {
		name := "timeout"
		if scheduled {
			name = "scheduled"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var ctx context.Context
				var cancel func()
				if scheduled {
					ctx, cancel = probes.NewRunContext(time.Now().Add(5 * time.Second))
				} else {
					ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
				}
				r := p.Probe(ctx)
				cancel()
				if !r.Success {
					b.Fatal(r.Err)
				}
			}
		})
	}
}

// BenchmarkProbeTLS is the same over TLS 1.3 with a verified certificate.
func BenchmarkProbeTLS(b *testing.B) {
	ca := testpki.NewCA(b, "Vigil Bench CA")
	ts := newTLSServer(b, reply(200, healthBody), serverLeaf(b, ca), nil)
	benchProbe(b, newProber(b, &Config{URL: ts.URL + "/health", TLSConfig: probeconfig.TLSConfig{CAFile: ca.PEMFile}}))
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

// BenchmarkMemoryPerProber is the heap one Prober keeps for its check's lifetime
// (10,000 of them at once, as an agent at 10,000 checks holds), after New and
// after each has run once: a plain-http check must not pay for a transport or
// TLS it never uses. Run it with -benchtime 1x: one op builds 10,000 probers
// (1,000 where each runs once).
func BenchmarkMemoryPerProber(b *testing.B) {
	const n = 10000
	ts := newServer(b, reply(200, healthBody))
	ca := testpki.NewCA(b, "Vigil Bench CA")
	tlsServer := newTLSServer(b, reply(200, healthBody), serverLeaf(b, ca), nil)
	tests := []struct {
		name   string
		cfg    *Config
		n      int  // probers built
		runAll bool // each runs once before the measurement
	}{
		{"http", &Config{URL: ts.URL + "/health"}, n, false},
		{"http/after-run", &Config{URL: ts.URL + "/health"}, n / 10, true},
		{"http/headers", &Config{URL: ts.URL + "/health", Headers: map[string]string{"Accept": "application/json"}, BearerToken: "t0ken"}, n, false},
		{"https", &Config{URL: tlsServer.URL + "/health", TLSConfig: probeconfig.TLSConfig{CAFile: ca.PEMFile}}, n, false},
		{"https/after-run", &Config{URL: tlsServer.URL + "/health", TLSConfig: probeconfig.TLSConfig{CAFile: ca.PEMFile}}, n / 10, true},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			var heapInuse, heapAlloc float64
			for b.Loop() {
				heapInuse, heapAlloc = retainedPerProber(b, tt.n, tt.cfg, tt.runAll)
			}
			b.ReportMetric(heapInuse, "heap-inuse-B/prober")
			b.ReportMetric(heapAlloc, "heap-alloc-B/prober")
		})
	}
}

// retainedPerProber builds n probers of cfg, runs each once if runAll, and
// returns the heap kept per prober after a GC: HeapInuse (spans, what the
// process holds) and HeapAlloc (live objects).
func retainedPerProber(b *testing.B, n int, cfg *Config, runAll bool) (heapInuse, heapAlloc float64) {
	b.Helper()
	ps := make([]*Prober, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range ps {
		ps[i] = newProber(b, cfg)
	}
	if runAll {
		for _, p := range ps {
			if r := p.Probe(context.Background()); !r.Success {
				b.Fatal(r.Err)
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ps)
	return float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / float64(n),
		float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

// BenchmarkAuthorization is why authorization's header is resolved at load
// rather than by prometheus/common's round tripper: that one reads
// credentials_file on every request and needs a transport, so a plain-http
// check would leave the direct path.
func BenchmarkAuthorization(b *testing.B) {
	ts := newServer(b, reply(200, healthBody))
	file := writeFile(b, "token", []byte("t0ken\n"))
	b.Run("vigil-direct", func(b *testing.B) {
		benchProbe(b, newProber(b, &Config{URL: ts.URL + "/health", Authorization: &Authorization{CredentialsFile: file}}))
	})
	b.Run("prometheus-common", func(b *testing.B) {
		transport := &http.Transport{DisableKeepAlives: true, DisableCompression: true}
		client := &http.Client{Transport: promconfig.NewAuthorizationCredentialsRoundTripper("Bearer", promconfig.NewFileSecret(file), transport)}
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

// BenchmarkProbeOAuth2 is a plain-http run with a cached OAuth2 token: the
// transport path and prometheus/common's round tripper.
func BenchmarkProbeOAuth2(b *testing.B) {
	token := newServer(b, reply(200, `{"access_token":"t","token_type":"Bearer","expires_in":3600}`, "Content-Type", "application/json"))
	ts := newServer(b, reply(200, healthBody))
	benchProbe(b, newProber(b, &Config{URL: ts.URL + "/health", OAuth2: &OAuth2{ClientID: "vigil", ClientSecret: "s", TokenURL: token.URL}}))
}
