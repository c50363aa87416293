package httpprobe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-monitoring/vigil/probes"
)

// Prober runs the HTTP check of one Config. It is built once per check; the
// scheduler never overlaps its runs, and each run dials a new connection. An
// agent holds one per check for as long as the check is configured, so it
// keeps only what its config needs (plain-http checks share their headers and
// build no transport or TLS config).
type Prober struct {
	plan    *plan
	checkID string
	// resolver resolves target (or proxy) names; tests point it at their own
	// DNS server.
	resolver *net.Resolver

	// transport serves https and proxied requests, built on the first one: a
	// plain-http check goes by the direct path and may never need it (only a
	// redirect to https would).
	transportOnce sync.Once
	// capture keeps the body, headers and cookies in Result.Captured (a
	// journey step that extracts from them: probes.Options.Capture). Next
	// to the Once's 12 bytes, it fills their word (an agent holds a Prober
	// per check).
	capture   bool
	transport *http.Transport
	// oauth2 wraps transport for an oauth2 check; nil otherwise.
	oauth2 *oauth2Client
	// directHead is the configured request as the direct path writes it,
	// when it goes that way and has no body: the same bytes every run, so
	// a run neither builds an http.Request nor renders it (about 500
	// bytes and 6 allocations a run, against some 100 bytes kept).
	directHead []byte
}

// dialer dials every prober's connections; it holds no state of its own.
// TCP keep-alive is off: a probe's connection carries one request and lives
// well under the first keep-alive probe's 15 s, and turning it on costs four
// setsockopt calls per run.
var dialer = net.Dialer{KeepAlive: -1}

// New builds a Prober from a Config, validating it (and reading the files it
// names) again, since a Prober must never run on a bad one.
func New(cfg *Config, opts probes.Options) (*Prober, error) {
	pl, err := cfg.takePlan()
	if err != nil {
		return nil, fmt.Errorf("http probe %s: invalid config: %w", opts.CheckID, err)
	}
	holdStamps()
	p := &Prober{plan: pl, checkID: opts.CheckID, resolver: net.DefaultResolver, capture: opts.Capture}
	p.directHead = p.renderDirectHead()
	if pl.client != nil && pl.client.oauth2 != nil {
		p.oauth2 = p.newOAuth2Client(pl.client)
	}
	return p, nil
}

// httpTransport is the prober's http.Transport, built on first use.
func (p *Prober) httpTransport() *http.Transport {
	p.transportOnce.Do(func() {
		p.transport = &http.Transport{
			DialContext: p.dialContext,
			// nil (no tls_config on an http target) is Go's default, as an
			// empty tls_config is.
			TLSClientConfig: p.plan.tlsConfig,
			// A fresh connection per run: the run measures connect and TLS,
			// and a reused connection would hide a listener that stopped
			// accepting.
			DisableKeepAlives: true,
			// Compression is the config's choice (Accept-Encoding and
			// decoding are ours), never the transport's silent gzip.
			DisableCompression: true,
			// A custom dialer and TLS config turn HTTP/2 off unless forced.
			ForceAttemptHTTP2: true,
			// HTTP/1 and HTTP/2 alike (it is also the header list size
			// HTTP/2 advertises).
			MaxResponseHeaderBytes: p.plan.maxHeaderBytes,
		}
		// Proxies and enable_http2 (client.go).
		p.plan.client.configureTransport(p.transport)
	})
	return p.transport
}

// outcome holds a run's Result with its HTTPInfo and phases, and the trace of
// its first request, so that a run makes one allocation for them instead of
// four. Result.TLS is allocated apart, after an https response only: in
// here it would take a plain-http run from 480 to 640 bytes.
type outcome struct {
	result probes.Result
	info   probes.HTTPInfo
	phases [5]probes.Phase
	trace  requestTrace // the first request's; a redirect's hops get their own
}

// hop is one request of a run; redirects make more.
type hop struct {
	method string
	url    *url.URL
	header http.Header
	host   string
	body   []byte
	// head is the request as the direct path writes it, rendered once per
	// prober (directHead); nil to build and write the request each run.
	head []byte
}

// failure is a response that came but did not pass a check, as opposed to a
// request that could not complete; only the latter can be a timeout.
type failure struct {
	msg string
	err error // the cause, if any
}

func (f *failure) Error() string { return f.msg }

func (f *failure) Unwrap() error { return f.err }

func failf(format string, args ...any) error {
	return &failure{msg: fmt.Sprintf(format, args...)}
}

// Probe runs one check: the request (following redirects), the response
// checks, and a bounded read of the body. Result.HTTP is always set;
// ContentLength is -1 when the body was not read.
func (p *Prober) Probe(ctx context.Context) *probes.Result {
	out := &outcome{}
	out.result.Start = time.Now()
	out.result.HTTP = &out.info
	out.info.ContentLength = -1
	var captured *probes.Captured
	if p.capture {
		captured = &probes.Captured{}
	}

	resp, tr, last, err := p.roundTrips(ctx, out, captured)
	if err != nil {
		return p.finish(ctx, out, tr, 0, last, err)
	}
	if resp.TLS != nil { // the final response's handshake: version and cipher, as blackbox_exporter shows them
		out.result.TLS = &probes.TLSInfo{Version: tls.VersionName(resp.TLS.Version),
			CipherSuite: tls.CipherSuiteName(resp.TLS.CipherSuite), CertExpiry: out.info.CertExpiry}
	}
	if err := p.checkResponse(resp); err != nil {
		resp.Body.Close()
		return p.finish(ctx, out, tr, 0, last, err)
	}
	out.info.ContentLength, err = p.checkBody(resp.Body, captured)
	bodyDone := tr.bodyDone()
	resp.Body.Close()
	if captured != nil && err == nil {
		captured.Header = resp.Header
		out.result.Captured = captured
	}
	return p.finish(ctx, out, tr, bodyDone, last, err)
}

// roundTrips sends the request and follows redirects, filling out's
// HTTPInfo. It returns the final response, the trace of the final request,
// and that request. With captured set, it keeps the cookies every response
// sets.
func (p *Prober) roundTrips(ctx context.Context, out *outcome, captured *probes.Captured) (*http.Response, *requestTrace, hop, error) {
	h := hop{method: p.plan.method, url: p.plan.url, header: p.plan.header, host: p.plan.host, body: p.plan.body,
		head: p.directHead}
	info := &out.info
	out.trace.start = out.result.Start
	tr := &out.trace
	var cookies redirectCookies
	for {
		if info.Redirects > 0 {
			tr = newRequestTrace(out.result.Start)
		}
		var resp *http.Response
		var err error
		if p.direct(&h) {
			resp, err = p.sendDirect(ctx, &h, tr)
		} else {
			resp, err = p.sendTransport(ctx, &h, tr)
		}
		if err != nil {
			return nil, tr, h, err
		}
		tr.mark(&tr.gotHeaders)
		info.StatusCode = resp.StatusCode
		info.Version = resp.Proto
		info.SSL = resp.TLS != nil
		info.CertExpiry = time.Time{}
		if resp.TLS != nil {
			info.CertExpiry = probes.CertExpiry(resp.TLS)
		}
		if captured != nil {
			captureCookies(captured, resp)
		}

		location := resp.Header.Get("Location")
		if !p.plan.followRedirects || !isRedirect(resp.StatusCode) || location == "" {
			return resp, tr, h, nil
		}
		resp.Body.Close()
		if info.Redirects == p.plan.maxRedirects {
			return nil, tr, h, failf("stopped after %d redirects", info.Redirects)
		}
		next, err := h.url.Parse(location)
		if err != nil {
			return nil, tr, h, failf("redirect %d: bad Location header: %v", resp.StatusCode, err)
		}
		if next.Scheme != "http" && next.Scheme != "https" {
			return nil, tr, h, failf("redirect %d to unsupported scheme %q", resp.StatusCode, next.Scheme)
		}
		info.Redirects++
		cookies.keep(h.url, resp)
		h = p.redirectHop(h, resp.StatusCode, next)
		cookies.add(&h)
	}
}

// headerLimitError names max_response_header_bytes in the transport's error
// for a response head over it (HTTP/1 says "exceeded", HTTP/2 "larger than
// advertised limit"); other errors pass unchanged.
func (p *Prober) headerLimitError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "server response headers exceeded") || strings.Contains(msg, "header list larger than advertised limit") {
		return &failure{msg: fmt.Sprintf("response headers exceed max_response_header_bytes (%d): %v", p.plan.maxHeaderBytes, err), err: err}
	}
	return err
}

// captureCookies keeps the cookies resp sets, a later one of a name winning.
func captureCookies(captured *probes.Captured, resp *http.Response) {
	for _, c := range resp.Cookies() {
		if captured.Cookies == nil {
			captured.Cookies = map[string]string{}
		}
		captured.Cookies[c.Name] = c.Value
	}
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// redirectHop is the request that follows a redirect, with net/http's rules:
// 301, 302 and 303 turn a request other than GET or HEAD into a GET without
// body; credentials (ours and any Cookie header) go only to the original host.
func (p *Prober) redirectHop(h hop, code int, next *url.URL) hop {
	if code <= http.StatusSeeOther && h.method != http.MethodGet && h.method != http.MethodHead {
		h.method = http.MethodGet
		h.body = nil
	}
	h.url, h.head = next, nil
	if strings.EqualFold(next.Hostname(), p.plan.url.Hostname()) {
		h.header, h.host = p.plan.header, p.plan.host
	} else {
		h.header, h.host = p.plan.crossHostHeader, ""
	}
	return h
}

// newRequest builds the hop's request, without context: the direct path needs
// none. The header map is shared between runs: senders only read it.
func (h *hop) newRequest() *http.Request {
	req := new(http.Request)
	h.fillRequest(req)
	return req
}

// fillRequest sets req to the hop's request.
func (h *hop) fillRequest(req *http.Request) {
	*req = http.Request{
		Method:     h.method,
		URL:        h.url,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h.header,
		Host:       h.host,
	}
	if body := h.body; len(body) > 0 {
		req.ContentLength = int64(len(body))
		req.Body = io.NopCloser(bytes.NewReader(body))
		// HTTP/2 may resend a request on a new connection.
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
}

// request is the hop's request for the transport, traced by tr.
func (h *hop) request(ctx context.Context, tr *requestTrace) *http.Request {
	return h.newRequest().WithContext(tr.withTrace(ctx))
}

// checkResponse applies the checks that need no body: status, version, TLS and
// headers.
func (p *Prober) checkResponse(resp *http.Response) error {
	pl := p.plan
	if len(pl.validStatusCodes) == 0 {
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return failf("status %d not 2xx", resp.StatusCode)
		}
	} else if !slices.Contains(pl.validStatusCodes, resp.StatusCode) {
		return failf("status %d not in valid_status_codes %v", resp.StatusCode, pl.validStatusCodes)
	}
	rules := pl.responseRules()
	if len(rules.validHTTPVersions) > 0 && !slices.Contains(rules.validHTTPVersions, resp.Proto) {
		return failf("version %s not in valid_http_versions %v", resp.Proto, rules.validHTTPVersions)
	}
	if pl.failIfSSL && resp.TLS != nil {
		return failf("final response came over TLS and fail_if_ssl is set")
	}
	if pl.failIfNotSSL && resp.TLS == nil {
		return failf("final response did not come over TLS and fail_if_not_ssl is set")
	}
	for _, rule := range rules.headerMatch {
		values := resp.Header[rule.key]
		if len(values) == 0 && !rule.allowMissing {
			return failf("header %s missing (fail_if_header_matches, allow_missing false)", rule.name)
		}
		for _, v := range values {
			if rule.re.MatchString(v) {
				return failf("header %s matched fail_if_header_matches %q", rule.name, rule.re)
			}
		}
	}
	for _, rule := range rules.headerNotMatch {
		values := resp.Header[rule.key]
		if len(values) == 0 {
			if rule.allowMissing {
				continue
			}
			return failf("header %s missing (fail_if_header_not_matches, allow_missing false)", rule.name)
		}
		if !slices.ContainsFunc(values, rule.re.MatchString) {
			return failf("header %s did not match fail_if_header_not_matches %q", rule.name, rule.re)
		}
	}
	return nil
}

// finish stamps the result: phases of the final request, duration, and the
// error, if any, named by check and request.
func (p *Prober) finish(ctx context.Context, out *outcome, tr *requestTrace, bodyDone int64, last hop, err error) *probes.Result {
	r := &out.result
	tr.phases(&out.phases, bodyDone)
	r.Phases = out.phases[:]
	r.Duration = time.Since(r.Start)
	if err == nil {
		// The run ends with the response's last byte: what closing and
		// checking take afterwards is the agent's time, not the target's.
		if bodyDone > 0 {
			r.Duration = min(r.Duration, time.Duration(bodyDone))
		}
		r.Success = true
		return r
	}
	var checkFailed *failure
	if !errors.As(err, &checkFailed) {
		switch {
		case deadlinePassed(ctx):
			r.TimedOut = true
			if !isTimeout(err) {
				// A read cut off by the deadline can surface as the
				// parser's complaint about the part it got ("malformed
				// HTTP status code"): the cause is the deadline.
				err = os.ErrDeadlineExceeded
			}
			err = fmt.Errorf("timed out %s: %w", tr.stage(), err)
		case ctx.Err() != nil:
			// The direct path sees a cancellation as a connection deadline;
			// say what happened instead.
			err = fmt.Errorf("canceled %s: %w", tr.stage(), ctx.Err())
		default:
			err = probes.DescribeTLSError(err)
		}
	}
	// The configured URL holds no credentials (parseURL refuses them); a
	// redirect's might.
	target := last.url.Redacted()
	return r.Fail(fmt.Errorf("http probe %s: %s %s: %w", p.checkID, last.method, target, err))
}

// deadlinePassed reports whether the run's deadline has come. The direct path's
// connection deadline can fire a moment before ctx itself reports it.
func deadlinePassed(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	deadline, ok := ctx.Deadline()
	return ok && !time.Now().Before(deadline)
}

// isTimeout tells a deadline's error from any other.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
