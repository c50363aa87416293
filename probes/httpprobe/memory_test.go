package httpprobe

import (
	"net/http"
	"reflect"
	"runtime"
	"testing"

	"github.com/vigil-monitoring/vigil/internal/testpki"
	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// sameMap reports whether a and b are the same map, not equal ones.
func sameMap(a, b http.Header) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// TestPlainHTTPKeepsLittle: an agent holds a prober per check for as long as
// the check exists, so a plain-http one keeps no transport, no TLS config and
// no header map of its own, and still runs as before.
func TestPlainHTTPKeepsLittle(t *testing.T) {
	ts := newServer(t, reply(200, "ok"))
	a, b := newProber(t, &Config{URL: ts.URL + "/a"}), newProber(t, &Config{URL: ts.URL + "/b"})
	if r := a.Probe(t.Context()); !r.Success {
		t.Fatal(r.Err)
	}
	if a.transport != nil || a.plan.tlsConfig != nil {
		t.Errorf("plain-http prober built a transport (%v) or TLS config (%v)", a.transport != nil, a.plan.tlsConfig != nil)
	}
	if !sameMap(a.plan.header, b.plan.header) || !sameMap(a.plan.header, a.plan.crossHostHeader) {
		t.Error("probers without headers of their own do not share the default header")
	}
	if got := a.plan.header.Get("User-Agent"); got != userAgent {
		t.Errorf("User-Agent %q, want %q", got, userAgent)
	}

	// Headers without credentials: one map for both hosts. With some: the
	// other host's map lacks them.
	plain := newProber(t, &Config{URL: ts.URL + "/", Headers: map[string]string{"Accept": "text/plain"}})
	if !sameMap(plain.plan.header, plain.plan.crossHostHeader) || sameMap(plain.plan.header, defaultHeader) {
		t.Error("a header without credentials is not built once and used for both hosts")
	}
	cookie := newProber(t, &Config{URL: ts.URL + "/", Headers: map[string]string{"Cookie": "s=1", "Accept": "text/plain"}})
	if cookie.plan.header.Get("Cookie") != "s=1" || cookie.plan.crossHostHeader.Get("Cookie") != "" || cookie.plan.crossHostHeader.Get("Accept") != "text/plain" {
		t.Errorf("header %v, other host's %v: want the cookie only in the first", cookie.plan.header, cookie.plan.crossHostHeader)
	}

	// An https target, or tls_config on an http one, still gets its TLS config.
	for _, cfg := range []*Config{
		{URL: "https://127.0.0.1/"},
		{URL: ts.URL + "/", TLSConfig: probeconfig.TLSConfig{ServerName: "vigil.test"}},
	} {
		if p := newProber(t, cfg); p.plan.tlsConfig == nil {
			t.Errorf("%s: no TLS config", cfg.URL)
		}
	}
}

// TestHTTPRedirectToHTTPS: the transport a plain-http prober builds on its
// first redirect to https verifies with the check's tls_config, or with the
// system roots when there is none.
func TestHTTPRedirectToHTTPS(t *testing.T) {
	ca := testpki.NewCA(t, "Vigil Test CA")
	secure := newTLSServer(t, reply(200, "secure"), serverLeaf(t, ca), nil)
	plain := newServer(t, http.RedirectHandler(secure.URL+"/final", http.StatusFound))

	r := runProbe(t, &Config{URL: plain.URL + "/", TLSConfig: probeconfig.TLSConfig{CAFile: ca.PEMFile}})
	wantSuccess(t, r)
	if r.HTTP.Redirects != 1 || !r.HTTP.SSL || phase(r, "tls") <= 0 {
		t.Errorf("HTTP = %+v, phases %v: want one redirect to a verified TLS answer", *r.HTTP, r.Phases)
	}
	wantError(t, runProbe(t, &Config{URL: plain.URL + "/"}), "GET "+secure.URL+"/final", "certificate")
}

// TestProberRetainedMemory bounds what 10,000 plain-http probers keep: about
// 0.5 KiB each (the plan, its parsed URL and the Prober), where a transport,
// a TLS config and two header maps each used to cost 2.4 KiB.
func TestProberRetainedMemory(t *testing.T) {
	const n = 10000
	cfg := &Config{URL: "http://127.0.0.1:8080/health"}
	ps := make([]*Prober, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range ps {
		ps[i] = newProber(t, cfg)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ps)
	perProber := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d bytes of heap per plain-http prober", perProber)
	if perProber > 1024 {
		t.Errorf("a plain-http prober keeps %d bytes of heap, want under 1 KiB", perProber)
	}
}
