package httpprobe

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testpki"
	"github.com/vigil-monitoring/vigil/probes"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// reply answers with code, body and header pairs ("Name", "value", ...).
func reply(code int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Add(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// echo answers with what the server received, for body regexps to check.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "method=%s host=%s x-team=%s auth=%q body=%s",
		r.Method, r.Host, r.Header.Get("X-Team"), r.Header.Get("Authorization"), body)
}

// compressed answers body encoded with coding.
func compressed(coding, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != coding {
			http.Error(w, "Accept-Encoding "+r.Header.Get("Accept-Encoding"), http.StatusBadRequest)
			return
		}
		var buf bytes.Buffer
		var zw io.WriteCloser
		switch coding {
		case "gzip":
			zw = gzip.NewWriter(&buf)
		case "deflate":
			zw = zlib.NewWriter(&buf)
		case "raw-deflate":
			zw, _ = flate.NewWriter(&buf, flate.DefaultCompression)
		}
		_, _ = io.WriteString(zw, body)
		_ = zw.Close()
		w.Header().Set("Content-Encoding", coding)
		_, _ = w.Write(buf.Bytes())
	}
}

// redirects serves /hop/N redirecting to /hop/N-1 down to /hop/0 (200), with
// code, and /loop redirecting to itself.
func redirects(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var n int
		switch {
		case r.URL.Path == "/loop":
			http.Redirect(w, r, "/loop", code)
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			_, _ = fmt.Sscanf(r.URL.Path, "/hop/%d", &n)
			if n == 0 {
				echo(w, r)
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), code)
		default:
			http.NotFound(w, r)
		}
	}
}

// hijacked writes raw to the connection, then closes it.
func hijacked(raw string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		_, _ = io.WriteString(conn, raw)
		conn.Close()
	}
}

func TestProbe(t *testing.T) {
	tests := []struct {
		name    string
		handler http.Handler
		path    string
		config  func(*Config)
		wantErr []string // nil: the run passes
		check   func(*testing.T, *probes.Result)
	}{
		{
			name:    "success with values",
			handler: reply(200, "hello vigil"),
			check: func(t *testing.T, r *probes.Result) {
				h := r.HTTP
				if h.StatusCode != 200 || h.Version != "HTTP/1.1" || h.ContentLength != 11 || h.Redirects != 0 || h.SSL || !h.CertExpiry.IsZero() {
					t.Errorf("HTTP = %+v", *h)
				}
				if r.TLS != nil {
					t.Errorf("TLS = %+v for plain HTTP, want none", r.TLS)
				}
				// An IP literal is not resolved, plain HTTP has no handshake.
				if phase(r, "resolve") != 0 || phase(r, "tls") != 0 {
					t.Errorf("resolve/tls phases = %v", r.Phases)
				}
				if phase(r, "connect") <= 0 || phase(r, "processing") <= 0 {
					t.Errorf("connect/processing phases = %v", r.Phases)
				}
				var sum time.Duration
				for _, p := range r.Phases {
					sum += p.Duration
				}
				if r.Duration <= 0 || sum > r.Duration {
					t.Errorf("duration %v, phases sum %v", r.Duration, sum)
				}
			},
		},
		{
			name: "chunked body",
			handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "first,")
				w.(http.Flusher).Flush() // no Content-Length: chunked
				_, _ = io.WriteString(w, "second")
			}),
			config: func(c *Config) { c.FailIfBodyNotMatchesRegexp = mustRegexps("^first,second$") },
			check: func(t *testing.T, r *probes.Result) {
				if r.HTTP.ContentLength != 12 {
					t.Errorf("content length %d, want 12", r.HTTP.ContentLength)
				}
			},
		},
		{
			name:    "HEAD reads no body",
			handler: reply(200, "ignored body"),
			config:  func(c *Config) { c.Method = "HEAD" },
			check: func(t *testing.T, r *probes.Result) {
				if r.HTTP.ContentLength != 0 || r.HTTP.StatusCode != 200 {
					t.Errorf("HTTP = %+v", *r.HTTP)
				}
			},
		},
		{
			name: "interim 103 response is skipped",
			handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Link", "</app.css>; rel=preload")
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusOK)
				_, _ = io.WriteString(w, "final")
			}),
			config: func(c *Config) { c.FailIfBodyNotMatchesRegexp = mustRegexps("^final$") },
			check: func(t *testing.T, r *probes.Result) {
				if r.HTTP.StatusCode != 200 {
					t.Errorf("status %d, want the final 200", r.HTTP.StatusCode)
				}
			},
		},
		{
			name:    "connection closed without an answer",
			handler: hijacked(""),
			wantErr: []string{"read response: EOF"},
		},
		{
			name:    "HTTP/1.0 body delimited by close",
			handler: hijacked("HTTP/1.0 200 OK\r\nServer: legacy\r\n\r\nlegacy body"),
			config:  func(c *Config) { c.ValidHTTPVersions = []string{"HTTP/1.0"} },
			check: func(t *testing.T, r *probes.Result) {
				if r.HTTP.Version != "HTTP/1.0" || r.HTTP.ContentLength != 11 {
					t.Errorf("HTTP = %+v", *r.HTTP)
				}
			},
		},
		{
			name:    "status 500 not 2xx",
			handler: reply(500, "boom"),
			wantErr: []string{"status 500 not 2xx"},
			check: func(t *testing.T, r *probes.Result) {
				if r.HTTP.StatusCode != 500 || r.HTTP.ContentLength != -1 || r.TimedOut {
					t.Errorf("HTTP = %+v, timed out %v", *r.HTTP, r.TimedOut)
				}
			},
		},
		{
			name:    "status not in valid_status_codes",
			handler: reply(500, "boom"),
			path:    "/health",
			config:  func(c *Config) { c.ValidStatusCodes = []int{200} },
			wantErr: []string{"status 500 not in valid_status_codes [200]"},
		},
		{
			name:    "valid_status_codes accepts 404",
			handler: reply(404, "gone"),
			config:  func(c *Config) { c.ValidStatusCodes = []int{200, 404} },
		},
		{
			name:    "valid_http_versions rejects HTTP/1.1",
			handler: reply(200, "ok"),
			config:  func(c *Config) { c.ValidHTTPVersions = []string{"HTTP/2.0"} },
			wantErr: []string{"version HTTP/1.1 not in valid_http_versions [HTTP/2.0]"},
		},
		{
			name:    "valid_http_versions accepts HTTP/1.1",
			handler: reply(200, "ok"),
			config:  func(c *Config) { c.ValidHTTPVersions = []string{"HTTP/1.1", "HTTP/2.0"} },
		},
		{
			name:    "fail_if_not_ssl over plain HTTP",
			handler: reply(200, "ok"),
			config:  func(c *Config) { c.FailIfNotSSL = true },
			wantErr: []string{"did not come over TLS and fail_if_not_ssl is set"},
		},
		{
			name:    "fail_if_ssl over plain HTTP passes",
			handler: reply(200, "ok"),
			config:  func(c *Config) { c.FailIfSSL = true },
		},
		{
			name:    "body matches fail_if_body_matches_regexp",
			handler: reply(200, "an error happened"),
			config:  func(c *Config) { c.FailIfBodyMatchesRegexp = mustRegexps("timeout", "error") },
			wantErr: []string{`body matched fail_if_body_matches_regexp "error"`},
			check: func(t *testing.T, r *probes.Result) {
				// The body was read and timed: the head and the body may
				// arrive together, so transfer may be 0, never negative.
				if r.HTTP.ContentLength != 17 || phase(r, "processing") <= 0 || phase(r, "transfer") < 0 ||
					r.Duration < phase(r, "connect")+phase(r, "processing")+phase(r, "transfer") {
					t.Errorf("content length %d, duration %v, phases %v", r.HTTP.ContentLength, r.Duration, r.Phases)
				}
			},
		},
		{
			name:    "body does not match fail_if_body_matches_regexp",
			handler: reply(200, "all good"),
			config:  func(c *Config) { c.FailIfBodyMatchesRegexp = mustRegexps("error") },
		},
		{
			name:    "body matches fail_if_body_not_matches_regexp",
			handler: reply(200, `{"status": "ok"}`),
			config:  func(c *Config) { c.FailIfBodyNotMatchesRegexp = mustRegexps(`"status":\s*"ok"`) },
		},
		{
			name:    "body does not match fail_if_body_not_matches_regexp",
			handler: reply(200, `{"status": "degraded"}`),
			config:  func(c *Config) { c.FailIfBodyNotMatchesRegexp = mustRegexps(`"status":\s*"ok"`) },
			wantErr: []string{`body did not match fail_if_body_not_matches_regexp "\"status\":\\s*\"ok\""`},
		},
		{
			name:    "header matches fail_if_header_matches",
			handler: reply(200, "ok", "X-Release", "stable", "X-Release", "beta-2"),
			config: func(c *Config) {
				c.FailIfHeaderMatches = []HeaderMatch{{Header: "x-release", Regexp: mustRegexp("^beta")}}
			},
			wantErr: []string{`header x-release matched fail_if_header_matches "^beta"`},
		},
		{
			name:    "header does not match fail_if_header_matches",
			handler: reply(200, "ok", "X-Release", "stable"),
			config: func(c *Config) {
				c.FailIfHeaderMatches = []HeaderMatch{{Header: "X-Release", Regexp: mustRegexp("^beta")}}
			},
		},
		{
			name:    "fail_if_header_matches header missing",
			handler: reply(200, "ok"),
			config: func(c *Config) {
				c.FailIfHeaderMatches = []HeaderMatch{{Header: "X-Release", Regexp: mustRegexp("^beta")}}
			},
			wantErr: []string{"header X-Release missing (fail_if_header_matches, allow_missing false)"},
		},
		{
			name:    "fail_if_header_matches header missing allowed",
			handler: reply(200, "ok"),
			config: func(c *Config) {
				c.FailIfHeaderMatches = []HeaderMatch{{Header: "X-Release", Regexp: mustRegexp("^beta"), AllowMissing: true}}
			},
		},
		{
			name:    "header matches fail_if_header_not_matches",
			handler: reply(200, "ok", "Content-Type", "application/json; charset=utf-8"),
			config: func(c *Config) {
				c.FailIfHeaderNotMatches = []HeaderMatch{{Header: "Content-Type", Regexp: mustRegexp("^application/json")}}
			},
		},
		{
			name:    "header does not match fail_if_header_not_matches",
			handler: reply(200, "ok", "Content-Type", "text/html"),
			config: func(c *Config) {
				c.FailIfHeaderNotMatches = []HeaderMatch{{Header: "Content-Type", Regexp: mustRegexp("^application/json")}}
			},
			wantErr: []string{`header Content-Type did not match fail_if_header_not_matches "^application/json"`},
		},
		{
			name:    "fail_if_header_not_matches header missing",
			handler: reply(200, "ok"),
			config: func(c *Config) {
				c.FailIfHeaderNotMatches = []HeaderMatch{{Header: "X-Served-By", Regexp: mustRegexp("kr-")}}
			},
			wantErr: []string{"header X-Served-By missing (fail_if_header_not_matches, allow_missing false)"},
		},
		{
			name:    "fail_if_header_not_matches header missing allowed",
			handler: reply(200, "ok"),
			config: func(c *Config) {
				c.FailIfHeaderNotMatches = []HeaderMatch{{Header: "X-Served-By", Regexp: mustRegexp("kr-"), AllowMissing: true}}
			},
		},
		{
			name:    "method, headers, Host and body are sent",
			handler: http.HandlerFunc(echo),
			config: func(c *Config) {
				c.Method = "POST"
				c.Headers = map[string]string{"x-team": "talk", "Host": "talk.example.com"}
				c.Body = `{"ping":1}`
				c.FailIfBodyNotMatchesRegexp = mustRegexps(`^method=POST host=talk\.example\.com x-team=talk auth="" body=\{"ping":1\}$`)
			},
		},
		{
			name:    "body_file is sent",
			handler: http.HandlerFunc(echo),
			config: func(c *Config) {
				c.Method = "PUT"
				c.BodyFile = writeFile(t, "body.json", []byte("from a file"))
				c.FailIfBodyNotMatchesRegexp = mustRegexps(`method=PUT .* body=from a file$`)
			},
		},
		{
			name:    "compression gzip",
			handler: compressed("gzip", "compressed hello vigil"),
			config: func(c *Config) {
				c.Compression = "gzip"
				c.FailIfBodyNotMatchesRegexp = mustRegexps("^compressed hello vigil$")
			},
			check: func(t *testing.T, r *probes.Result) {
				if r.HTTP.ContentLength != int64(len("compressed hello vigil")) {
					t.Errorf("content length %d, want the decompressed length", r.HTTP.ContentLength)
				}
			},
		},
		{
			name:    "compression gzip on a plain body fails",
			handler: reply(200, "not gzip at all"),
			config:  func(c *Config) { c.Compression = "gzip" },
			wantErr: []string{"decode gzip body: gzip: invalid header"},
		},
		{
			name:    "compression deflate (zlib)",
			handler: compressed("deflate", "zlib body"),
			config: func(c *Config) {
				c.Compression = "deflate"
				c.FailIfBodyNotMatchesRegexp = mustRegexps("^zlib body$")
			},
		},
		{
			name: "compression deflate (raw)",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.Header.Set("Accept-Encoding", "raw-deflate")
				compressed("raw-deflate", "raw body")(w, r)
			}),
			config: func(c *Config) {
				c.Compression = "deflate"
				c.FailIfBodyNotMatchesRegexp = mustRegexps("^raw body$")
			},
		},
		{
			name:    "follow_redirects false returns the redirect",
			handler: redirects(http.StatusFound),
			path:    "/hop/1",
			config:  func(c *Config) { c.FollowRedirects = ptr(false) },
			wantErr: []string{"status 302 not 2xx"},
			check: func(t *testing.T, r *probes.Result) {
				if r.HTTP.Redirects != 0 || r.HTTP.StatusCode != 302 {
					t.Errorf("HTTP = %+v", *r.HTTP)
				}
			},
		},
		{
			name:    "follow_redirects false accepts 302 when valid",
			handler: redirects(http.StatusFound),
			path:    "/hop/1",
			config: func(c *Config) {
				c.FollowRedirects = ptr(false)
				c.ValidStatusCodes = []int{302}
			},
		},
		{
			name:    "redirects are followed and counted",
			handler: redirects(http.StatusMovedPermanently),
			path:    "/hop/3",
			config:  func(c *Config) { c.FailIfBodyNotMatchesRegexp = mustRegexps("^method=GET ") },
			check: func(t *testing.T, r *probes.Result) {
				if r.HTTP.Redirects != 3 || r.HTTP.StatusCode != 200 {
					t.Errorf("HTTP = %+v", *r.HTTP)
				}
				// Phases are those of the final request, not sums: one
				// connect, measured on the last hop.
				if phase(r, "connect") <= 0 || phase(r, "connect") > r.Duration/2 {
					t.Errorf("connect %v of a run of %v", phase(r, "connect"), r.Duration)
				}
			},
		},
		{
			name:    "303 turns POST into GET without body",
			handler: redirects(http.StatusSeeOther),
			path:    "/hop/1",
			config: func(c *Config) {
				c.Method = "POST"
				c.Body = "payload"
				c.FailIfBodyNotMatchesRegexp = mustRegexps("^method=GET .* body=$")
			},
		},
		{
			name:    "307 keeps POST and body",
			handler: redirects(http.StatusTemporaryRedirect),
			path:    "/hop/1",
			config: func(c *Config) {
				c.Method = "POST"
				c.Body = "payload"
				c.FailIfBodyNotMatchesRegexp = mustRegexps("^method=POST .* body=payload$")
			},
		},
		{
			name:    "redirect loop stops at the limit",
			handler: redirects(http.StatusFound),
			path:    "/loop",
			wantErr: []string{"/loop: stopped after 10 redirects"},
			check: func(t *testing.T, r *probes.Result) {
				if r.HTTP.Redirects != 10 || r.HTTP.StatusCode != 302 || r.TimedOut {
					t.Errorf("HTTP = %+v", *r.HTTP)
				}
			},
		},
		{
			name:    "max_redirects",
			handler: redirects(http.StatusFound),
			path:    "/hop/2",
			config:  func(c *Config) { c.MaxRedirects = ptr(1) },
			wantErr: []string{"/hop/1: stopped after 1 redirects"},
		},
		{
			name: "basic auth is sent",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if user, pass, ok := r.BasicAuth(); !ok || user != "vigil" || pass != "s3cret-pw" {
					w.WriteHeader(http.StatusUnauthorized)
				}
			}),
			config: func(c *Config) { c.BasicAuth = &BasicAuth{Username: "vigil", Password: "s3cret-pw"} },
		},
		{
			name: "basic auth from password_file",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if user, pass, ok := r.BasicAuth(); !ok || user != "vigil" || pass != "from-file" {
					w.WriteHeader(http.StatusUnauthorized)
				}
			}),
			config: func(c *Config) {
				c.BasicAuth = &BasicAuth{Username: "vigil", PasswordFile: writeFile(t, "pw", []byte("from-file\n"))}
			},
		},
		{
			name:    "wrong basic auth fails without showing the password",
			handler: reply(http.StatusUnauthorized, "no"),
			config:  func(c *Config) { c.BasicAuth = &BasicAuth{Username: "vigil", Password: "s3cret-pw"} },
			wantErr: []string{"status 401 not 2xx"},
		},
		{
			name: "bearer token is sent",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer s3cret-token" {
					w.WriteHeader(http.StatusForbidden)
				}
			}),
			config: func(c *Config) { c.BearerToken = "s3cret-token" },
		},
		{
			name:    "wrong bearer token fails without showing it",
			handler: reply(http.StatusForbidden, "no"),
			config:  func(c *Config) { c.BearerTokenFile = writeFile(t, "token", []byte("s3cret-token")) },
			wantErr: []string{"status 403 not 2xx"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := newServer(t, tt.handler)
			cfg := &Config{URL: ts.URL + tt.path}
			if tt.config != nil {
				tt.config(cfg)
			}
			r := runProbe(t, cfg)
			wantPhases(t, r)
			if r.HTTP == nil {
				t.Fatal("Result.HTTP is nil")
			}
			if tt.wantErr == nil {
				wantSuccess(t, r)
			} else {
				wantError(t, r, tt.wantErr...)
				wantError(t, r, "http probe "+testCheckID+": "+cfg.methodOrGet()+" "+ts.URL)
				for _, secret := range []string{"s3cret", "from-file", "Basic ", "Bearer "} {
					if strings.Contains(r.Err.Error(), secret) {
						t.Errorf("error %q shows a secret", r.Err)
					}
				}
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func (c *Config) methodOrGet() string {
	if c.Method == "" {
		return "GET"
	}
	return c.Method
}

func TestStatusErrorText(t *testing.T) {
	ts := newServer(t, reply(500, "boom"))
	r := runProbe(t, &Config{URL: ts.URL + "/health", ValidStatusCodes: []int{200}})
	want := "http probe talk/api/http: GET " + ts.URL + "/health: status 500 not in valid_status_codes [200]"
	if r.ErrorString() != want {
		t.Fatalf("error\n got %q\nwant %q", r.ErrorString(), want)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	r := runProbe(t, &Config{URL: "http://" + addr + "/"})
	wantError(t, r, "http probe talk/api/http: GET http://"+addr+"/: dial tcp4 "+addr+": connect: connection refused")
	wantPhases(t, r)
	if r.TimedOut || r.HTTP.StatusCode != 0 || r.HTTP.ContentLength != -1 {
		t.Errorf("timed out %v, HTTP %+v", r.TimedOut, *r.HTTP)
	}
}

// silentListener accepts connections and never answers, until the test ends.
// accepted receives each accepted connection's arrival (without blocking).
func silentListener(t *testing.T) (addr string, accepted <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	arrivals := make(chan struct{}, 1)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for { // ends when the listener is closed
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			select {
			case arrivals <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String(), arrivals
}

// stallingHandler sends the head and part of the body, then nothing until the
// test ends (or the client goes away).
func stallingHandler(t *testing.T) http.Handler {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
}

func TestTimeout(t *testing.T) {
	ca := testpki.NewCA(t, "Vigil Test CA")
	silent, _ := silentListener(t)
	stalled := newServer(t, stallingHandler(t))
	stalledTLS := newTLSServer(t, stallingHandler(t), serverLeaf(t, ca), nil)
	hung := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // ends when the client goes away
	}))
	stalledHead := stalledHeadServer(t)

	tests := []struct {
		name, url, stage string
	}{
		{"accepts and never answers", "http://" + silent + "/", "timed out waiting for the response"},
		{"handler never answers", hung.URL, "timed out waiting for the response"},
		{"headers stall", "http://" + stalledHead + "/", "timed out reading the response headers"},
		{"body stalls", stalled.URL, "timed out reading the body"},
		{"TLS handshake never answered", "https://" + silent + "/", "timed out in the TLS handshake"},
		{"body stalls over TLS", stalledTLS.URL, "timed out reading the body"},
	}
	const timeout = 300 * time.Millisecond
	for _, tt := range tests {
		// A scheduled run's context (probes.NewRunContext) has the probe
		// rely on its sockets' deadlines alone.
		for _, scheduled := range []bool{false, true} {
			name := tt.name
			if scheduled {
				name += "/scheduled"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				timeoutRuns(t, tt.url, ca, tt.stage, timeout, scheduled)
			})
		}
	}
}

// timeoutRuns runs a probe of url with timeout, in the context of a
// scheduled run or not, and wants a timeout error naming stage within 50 ms
// of the deadline.
func timeoutRuns(t *testing.T, url string, ca *testpki.CA, stage string, timeout time.Duration, scheduled bool) {
	p := newProber(t, &Config{URL: url, TLSConfig: probeconfig.TLSConfig{CAFile: ca.PEMFile}})
	// Up to three tries: on a loaded 2-core CI machine running every
	// package's -race tests at once, the goroutine that wakes at the
	// deadline can itself wait for a CPU. A probe that ignores its
	// deadline is late every time and still fails.
	var late time.Duration
	for try := 0; try < 3; try++ {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		deadline, _ := ctx.Deadline()
		if scheduled {
			cancel()
			ctx, cancel = probes.NewRunContext(deadline)
		}
		r := p.Probe(ctx)
		late = time.Since(deadline)
		cancel()
		t.Logf("try %d returned %v after the deadline: %v", try, late, r.Err)
		wantError(t, r, stage)
		if !r.TimedOut {
			t.Errorf("TimedOut = false")
		}
		wantPhases(t, r)
		if late <= 50*time.Millisecond {
			break
		}
	}
	if late > 50*time.Millisecond {
		t.Errorf("returned %v after the deadline in each of 3 tries, want within 50ms", late)
	}
}

func TestCanceled(t *testing.T) {
	silent, accepted := silentListener(t)
	for _, url := range []string{"http://" + silent + "/", "https://" + silent + "/"} {
		t.Run(url, func(t *testing.T) {
			p := newProber(t, &Config{URL: url})
			// The scheduler's deadline is far; the agent shutting down cancels.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			go func() {
				select {
				case <-accepted:
					cancel()
				case <-ctx.Done():
				}
			}()
			start := time.Now()
			r := p.Probe(ctx)
			wantError(t, r, "canceled ", "context canceled")
			t.Logf("error: %v", r.Err)
			if r.TimedOut || time.Since(start) > 10*time.Second {
				t.Errorf("TimedOut %v after %v, want a prompt non-timeout failure", r.TimedOut, time.Since(start))
			}
		})
	}
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestBodySizeLimit(t *testing.T) {
	const size = 1 << 30 // served lazily, never held in memory
	ts := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		_, _ = io.Copy(w, io.LimitReader(zeros{}, size))
	}))
	const limit = 1 << 20
	tests := []struct {
		name   string
		config Config
	}{
		{"counted", Config{URL: ts.URL, BodySizeLimit: limit}},
		{"buffered for a regexp", Config{URL: ts.URL, BodySizeLimit: limit, FailIfBodyMatchesRegexp: mustRegexps("error")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := runProbe(t, &tt.config)
			runtime.ReadMemStats(&after)

			wantError(t, r, "body exceeds body_size_limit 1048576 bytes")
			if r.HTTP.ContentLength != limit+1 {
				t.Errorf("read %d bytes, want to stop at %d", r.HTTP.ContentLength, limit+1)
			}
			// Everything allocated during the run, server side included.
			t.Logf("allocated %d KiB in %v", (after.TotalAlloc-before.TotalAlloc)>>10, r.Duration)
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 64<<20 {
				t.Errorf("run allocated %d MiB, want well under 64 MiB", grown>>20)
			}
		})
	}
}

func TestProxy(t *testing.T) {
	target := newServer(t, http.HandlerFunc(echo))
	var proxied atomic.Int64
	var seen atomic.Value
	forward := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(forward.CloseIdleConnections)
	proxy := newServer(t, &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			proxied.Add(1)
			seen.Store(r.In.URL.String())
			r.Out.URL = r.In.URL // absolute-form: the client asked for the target
		},
		Transport: forward,
	})

	r := runProbe(t, &Config{
		URL:                        target.URL + "/via-proxy",
		ProxyURL:                   proxy.URL,
		FailIfBodyNotMatchesRegexp: mustRegexps("^method=GET "),
	})
	wantSuccess(t, r)
	if proxied.Load() != 1 || seen.Load() != target.URL+"/via-proxy" {
		t.Fatalf("proxy saw %d requests, last %v", proxied.Load(), seen.Load())
	}
}

func TestIPProtocol(t *testing.T) {
	ln6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("SKIP: no IPv6 loopback here (%v): preferred_ip_protocol ip6 is not tested", err)
	}
	remote := func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		_, _ = io.WriteString(w, "from="+host)
	}
	v6 := &http.Server{Handler: http.HandlerFunc(remote), ErrorLog: discardLogger()}
	go func() { _ = v6.Serve(ln6) }()
	t.Cleanup(func() { _ = v6.Close() })
	v4 := newServer(t, http.HandlerFunc(remote))
	port6 := fmt.Sprint(ln6.Addr().(*net.TCPAddr).Port)
	port4 := fmt.Sprint(v4.Listener.Addr().(*net.TCPAddr).Port)

	resolver := startDNS(t, map[string][]netip.Addr{
		"dual.vigil.test.":   {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
		"v4only.vigil.test.": {netip.MustParseAddr("127.0.0.1")},
		"v6only.vigil.test.": {netip.MustParseAddr("::1")},
	})
	tests := []struct {
		name     string
		url      string
		protocol string
		fallback *bool
		wantFrom string // remote address the server saw; "" for a failure
		wantErr  string
	}{
		{"ip6 preferred, both families", "http://dual.vigil.test:" + port6, "ip6", nil, "::1", ""},
		{"ip4 by default, both families", "http://dual.vigil.test:" + port4, "", nil, "127.0.0.1", ""},
		{"ip6 preferred, falls back to ip4", "http://v4only.vigil.test:" + port4, "ip6", nil, "127.0.0.1", ""},
		{"ip4 preferred, falls back to ip6", "http://v6only.vigil.test:" + port6, "ip4", nil, "::1", ""},
		{"ip6 preferred, no fallback", "http://v4only.vigil.test:" + port4, "ip6", ptr(false), "", "lookup v4only.vigil.test: no IPv6 address"},
		// Changed (issue 18): as in blackbox_exporter, the preferred family
		// without fallback binds a literal too (the parity test found it).
		{"ip6 literal, ip4 without fallback", "http://[::1]:" + port6, "ip4", ptr(false), "", "address ::1 is not ip4 (preferred_ip_protocol ip4, ip_protocol_fallback false)"},
		{"ip6 literal, ip4 with fallback", "http://[::1]:" + port6, "ip4", nil, "::1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProber(t, &Config{
				URL:                        tt.url,
				PreferredIPProtocol:        tt.protocol,
				IPProtocolFallback:         tt.fallback,
				FailIfBodyNotMatchesRegexp: mustRegexps("^from=" + tt.wantFrom + "$"),
			})
			p.resolver = resolver
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			r := p.Probe(ctx)
			if tt.wantErr != "" {
				wantError(t, r, tt.wantErr)
				return
			}
			wantSuccess(t, r)
			if strings.Contains(tt.url, "vigil.test") && phase(r, "resolve") <= 0 {
				t.Errorf("resolve phase %v for a name", phase(r, "resolve"))
			}
		})
	}
}

func TestRedirectToOtherHostDropsCredentials(t *testing.T) {
	ts := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			_, port, _ := net.SplitHostPort(r.Host)
			http.Redirect(w, r, "http://other.vigil.test:"+port+"/final", http.StatusFound)
			return
		}
		echo(w, r)
	}))
	p := newProber(t, &Config{
		URL:                        ts.URL + "/start",
		BearerToken:                "s3cret-token",
		Headers:                    map[string]string{"X-Team": "talk"},
		FailIfBodyNotMatchesRegexp: mustRegexps(`host=other\.vigil\.test:\d+ x-team=talk auth="" `),
	})
	p.resolver = startDNS(t, map[string][]netip.Addr{"other.vigil.test.": {netip.MustParseAddr("127.0.0.1")}})
	r := p.Probe(t.Context())
	wantSuccess(t, r)
	if r.HTTP.Redirects != 1 || phase(r, "resolve") <= 0 {
		t.Errorf("redirects %d, resolve %v", r.HTTP.Redirects, phase(r, "resolve"))
	}
}
