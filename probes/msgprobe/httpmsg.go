package msgprobe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/vigil-monitoring/vigil/probes/probeconfig"
)

// HTTPOptions are the keys of protocol http: the shape of a chat API. Publish
// sends the payload in a request to url (POST by default); the payload comes
// back through receive.url. Headers and the bearer token are also sent on the
// WebSocket handshake.
type HTTPOptions struct {
	// Method of the send request; default POST.
	Method string `yaml:"method,omitempty" json:"method,omitempty"`
	// BodyTemplate is a Go text/template of the send request's body; it sees
	// .Payload, .AgentID and .CheckID. Default {"text":"{{.Payload}}"}.
	BodyTemplate string `yaml:"body_template,omitempty" json:"body_template,omitempty"`
	// ContentType of the send request; default application/json.
	ContentType string `yaml:"content_type,omitempty" json:"content_type,omitempty"`
	// Headers are added to every request (and to the WebSocket handshake).
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// BearerToken is sent as "Authorization: Bearer ..."; or read from
	// BearerTokenFile.
	BearerToken     probeconfig.Secret `yaml:"bearer_token,omitempty" json:"bearer_token,omitempty"`
	BearerTokenFile string             `yaml:"bearer_token_file,omitempty" json:"bearer_token_file,omitempty"`
	// Receive says how payloads come back.
	Receive HTTPReceiveOptions `yaml:"receive,omitempty" json:"receive,omitempty"`
}

// HTTPReceiveOptions is the receive block of protocol http.
//
// Modes:
//   - poll (default): GET url every interval. The body may hold the whole
//     history: a payload is delivered when it appears, or appears more often,
//     than in the previous body, so old messages are not delivered again.
//   - long-poll: GET in a loop, sending the last response's ETag in
//     If-None-Match; the server answers at once when the ETag is outdated or
//     missing, and otherwise holds the request until something changes (or
//     answers 304 when its wait is over). Bodies are read as in poll.
//   - sse: one text/event-stream response; every event's data is scanned and
//     each payload found is delivered. The stream is reopened if it ends.
type HTTPReceiveOptions struct {
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
	// URL to read from; default the send url.
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// Interval between polls (and the pause before retrying a failed long-poll
	// or stream); default 200ms.
	Interval probeconfig.Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// ExtractRegexp finds payloads in bodies and events; with a capture group,
	// the first group is the payload. Default `vigil1\.[^\s"'\\<>]+` (payloads
	// start with "vigil1.").
	ExtractRegexp probeconfig.Regexp `yaml:"extract_regexp,omitempty" json:"extract_regexp,omitempty"`
}

const (
	defaultHTTPBodyTemplate   = `{"text":"{{.Payload}}"}`
	defaultHTTPContentType    = "application/json"
	defaultHTTPReceiveMode    = "poll"
	defaultHTTPPollInterval   = 200 * time.Millisecond
	defaultHTTPExtractPattern = `vigil1\.[^\s"'\\<>]+`
	// defaultHTTPMaxBody is max_message_bytes' default for protocol http:
	// each poll's body is read whole, and a chat history can grow.
	defaultHTTPMaxBody = 8 << 20
)

var defaultHTTPExtract = regexp.MustCompile(defaultHTTPExtractPattern)

// httpTemplateData is what body_template sees.
type httpTemplateData struct {
	Payload string
	AgentID string
	CheckID string
}

// httpTransport sends payloads to a chat-like HTTP API and reads them back by
// polling, long-polling or server-sent events.
type httpTransport struct {
	*httpSettings
	receiveFailure

	cancel context.CancelFunc // stops the receive loop
	done   chan struct{}      // closed when the receive loop has returned
	// seen counts each payload in the last body read (poll and long-poll).
	seen map[string]int
	etag string
}

// httpSettings are an http check's settings, compiled once. Every run shares
// the client: a run's Close drops its idle connections, so the next run
// connects anew as a fresh client would.
type httpSettings struct {
	checkID     string
	agentID     string
	method      string
	sendURL     string
	receiveURL  string
	safeSend    string // urls without userinfo or query, for errors
	safeReceive string
	body        *template.Template
	contentType string
	header      http.Header
	mode        string
	interval    time.Duration
	extract     *regexp.Regexp
	client      *http.Client
	limit       int64 // max_message_bytes: of a body, or of an event
	log         *slog.Logger
}

func compileHTTP(sh *shared) (connector, error) {
	cfg := sh.cfg
	s := &httpSettings{
		checkID: sh.checkID,
		agentID: sh.agentID,
		sendURL: cfg.URL,
		limit:   cfg.maxMessageBytes(defaultHTTPMaxBody),
		log:     sh.log,
	}
	header, headerErr := requestHeader(cfg, sh.password)
	if err := errors.Join(s.compileURLs(cfg), s.compileSend(cfg), s.compileReceive(cfg), headerErr); err != nil {
		return nil, err
	}
	s.header = header
	s.client = &http.Client{Transport: newHTTPTransport(sh.tls)}
	return func() Transport { return &httpTransport{httpSettings: s} }, nil
}

// compileURLs checks url and receive.url (default: url).
func (s *httpSettings) compileURLs(cfg *Config) error {
	var errs []error
	if err := checkHTTPURL("url", cfg.URL); err != nil {
		errs = append(errs, err)
	}
	s.receiveURL = cfg.Receive.URL
	if s.receiveURL == "" {
		s.receiveURL = cfg.URL
	} else if err := checkHTTPURL("receive.url", s.receiveURL); err != nil {
		errs = append(errs, err)
	}
	s.safeSend, s.safeReceive = redactURL(cfg.URL), redactURL(s.receiveURL)
	return errors.Join(errs...)
}

// compileSend checks and fills in the send request: method, body_template,
// content_type.
func (s *httpSettings) compileSend(cfg *Config) error {
	var errs []error
	s.method = strings.ToUpper(cfg.Method)
	if s.method == "" {
		s.method = http.MethodPost
	}
	if !isHTTPToken(s.method) {
		errs = append(errs, probeconfig.Errorf("method", "bad HTTP method %q", cfg.Method))
	}
	bodyText := cfg.BodyTemplate
	if bodyText == "" {
		bodyText = defaultHTTPBodyTemplate
	}
	body, err := template.New("body_template").Option("missingkey=error").Parse(bodyText)
	if err != nil {
		errs = append(errs, probeconfig.Errorf("body_template", "%v", err))
	} else if err := body.Execute(io.Discard, httpTemplateData{}); err != nil {
		// Catches unknown fields such as {{.Text}} now rather than at each run.
		errs = append(errs, probeconfig.Errorf("body_template", "%v", err))
	}
	s.body = body
	s.contentType = cfg.ContentType
	if s.contentType == "" {
		s.contentType = defaultHTTPContentType
	}
	return errors.Join(errs...)
}

// compileReceive checks and fills in the receive block's mode, interval and
// extract_regexp.
func (s *httpSettings) compileReceive(cfg *Config) error {
	var errs []error
	s.mode = cfg.Receive.Mode
	if s.mode == "" {
		s.mode = defaultHTTPReceiveMode
	}
	if s.mode != "poll" && s.mode != "long-poll" && s.mode != "sse" {
		errs = append(errs, probeconfig.Errorf("receive.mode", "unknown mode %q: want poll, long-poll or sse", cfg.Receive.Mode))
	}
	s.interval = time.Duration(cfg.Receive.Interval)
	switch {
	case s.interval == 0:
		s.interval = defaultHTTPPollInterval
	case s.interval < 10*time.Millisecond:
		errs = append(errs, probeconfig.Errorf("receive.interval", "must be at least 10ms, got %s", cfg.Receive.Interval))
	}
	s.extract = defaultHTTPExtract
	if cfg.Receive.ExtractRegexp.Regexp != nil {
		s.extract = cfg.Receive.ExtractRegexp.Regexp
	}
	return errors.Join(errs...)
}

// newHTTPTransport is the HTTP transport of protocols http and websocket:
// Go's defaults, with tlsConfig (nil: Go's default) and no proxy, since probes
// measure the path to the target, not to a proxy.
func newHTTPTransport(tlsConfig *tls.Config) *http.Transport {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	transport.Proxy = nil
	return transport
}

// checkHTTPURL checks that raw is an absolute http or https url.
func checkHTTPURL(key, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return probeconfig.Errorf(key, "required")
	case err != nil:
		return probeconfig.Errorf(key, "cannot parse %s", redactURL(raw))
	case u.Scheme != "http" && u.Scheme != "https":
		return probeconfig.Errorf(key, "want http:// or https://, got %s", redactURL(raw))
	case u.Host == "":
		return probeconfig.Errorf(key, "no host in %s", redactURL(raw))
	}
	return nil
}

// isHTTPToken reports whether s is a valid HTTP method or header name.
func isHTTPToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// requestHeader builds the headers every request of protocols http and
// websocket carries: headers, then bearer_token or username/password (the
// password resolved by compile).
func requestHeader(cfg *Config, password probeconfig.Secret) (http.Header, error) {
	var errs []error
	header := http.Header{}
	for name, value := range cfg.Headers {
		if !isHTTPToken(name) {
			errs = append(errs, probeconfig.Errorf("headers", "bad header name %q", name))
			continue
		}
		if strings.ContainsAny(value, "\r\n") {
			errs = append(errs, probeconfig.Errorf("headers", "value of %s holds a line break", name))
			continue
		}
		header.Set(name, value)
	}
	token, err := probeconfig.ResolveSecret("bearer_token", cfg.BearerToken, cfg.BearerTokenFile)
	if err != nil {
		errs = append(errs, err)
	}
	switch {
	case token != "" && cfg.Username != "":
		errs = append(errs, probeconfig.Errorf("bearer_token", "set only one of bearer_token and username"))
	case token != "":
		header.Set("Authorization", "Bearer "+token.Reveal())
	case cfg.Username != "":
		// A throwaway request, for SetBasicAuth's encoding.
		req := http.Request{Header: header}
		req.SetBasicAuth(cfg.Username, password.Reveal())
	case password != "":
		errs = append(errs, probeconfig.Errorf("username", "required when password is set"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return header, nil
}

// Connect does nothing: HTTP has no session to open, and the first request
// (Subscribe's) shows whether the endpoint answers.
func (h *httpTransport) Connect(context.Context) error { return nil }

// Subscribe reads the current state (poll, long-poll), so that payloads already
// there are not delivered, or opens the event stream (sse); then it starts the
// receive loop.
func (h *httpTransport) Subscribe(ctx context.Context, deliver func(payload []byte)) error {
	loopCtx, cancel := context.WithCancel(context.Background())
	var loop func()
	switch h.mode {
	case "sse":
		// The stream outlives ctx, but ctx bounds the wait for its headers.
		stop := context.AfterFunc(ctx, cancel)
		stream, err := h.openStream(loopCtx, "")
		if !stop() || err != nil {
			cancel()
			if err == nil {
				stream.Body.Close()
				err = ctx.Err()
			}
			return fmt.Errorf("open event stream %s: %w", h.safeReceive, err)
		}
		loop = func() { h.readStreams(loopCtx, stream, deliver) }
	default:
		body, status, err := h.get(ctx)
		if err != nil {
			cancel()
			return fmt.Errorf("read %s: %w", h.safeReceive, err)
		}
		if status == http.StatusOK {
			h.seen, _ = h.newPayloads(body)
		}
		if h.mode == "poll" {
			loop = func() { h.poll(loopCtx, deliver) }
		} else {
			loop = func() { h.longPoll(loopCtx, deliver) }
		}
	}
	h.cancel = cancel
	h.done = make(chan struct{})
	go func() {
		defer close(h.done)
		loop()
	}()
	return nil
}

// get reads receive.url once, sending If-None-Match when an ETag is known.
// It returns the body of a 200 and the status of a 200 or 304.
func (h *httpTransport) get(ctx context.Context) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.receiveURL, nil)
	if err != nil {
		return nil, 0, err
	}
	h.addHeaders(req)
	if h.etag != "" {
		req.Header.Set("If-None-Match", h.etag)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, 0, urlErrorCause(err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		return nil, resp.StatusCode, nil
	default:
		return nil, resp.StatusCode, fmt.Errorf("status %s", resp.Status)
	}
	// One byte over the limit tells a body at the limit from a longer one.
	body, err := io.ReadAll(io.LimitReader(resp.Body, h.limit+1))
	switch {
	case err != nil:
		return nil, resp.StatusCode, fmt.Errorf("read body: %w", err)
	case int64(len(body)) > h.limit:
		return nil, resp.StatusCode, &messageTooBigError{what: "response body", limit: h.limit}
	}
	h.etag = resp.Header.Get("ETag")
	return body, resp.StatusCode, nil
}

// newPayloads counts the payloads in body and lists, in body order, those
// that appear more often than in the last body read.
func (h *httpTransport) newPayloads(body []byte) (map[string]int, [][]byte) {
	counts := map[string]int{}
	var fresh [][]byte
	for _, m := range h.extract.FindAllSubmatch(body, -1) {
		payload := m[0]
		if len(m) > 1 {
			payload = m[1]
		}
		key := string(payload)
		counts[key]++
		if counts[key] > h.seen[key] {
			fresh = append(fresh, payload)
		}
	}
	return counts, fresh
}

// deliverBody delivers the new payloads of body and remembers its counts.
func (h *httpTransport) deliverBody(body []byte, deliver func([]byte)) int {
	counts, fresh := h.newPayloads(body)
	h.seen = counts
	for _, payload := range fresh {
		deliver(payload)
	}
	return len(fresh)
}

// poll reads receive.url every interval until ctx is done.
func (h *httpTransport) poll(ctx context.Context, deliver func([]byte)) {
	ticker := time.NewTicker(h.interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		body, status, err := h.get(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case h.failed(err):
			return
		case err != nil:
			h.log.Debug("http messaging poll failed", "check", h.checkID, "url", h.safeReceive, "err", err)
		case status == http.StatusOK:
			h.deliverBody(body, deliver)
		}
	}
}

// longPoll reissues the GET as soon as it returns. A server that answers at
// once with nothing new is not holding requests: the loop then waits out the
// interval rather than spinning.
func (h *httpTransport) longPoll(ctx context.Context, deliver func([]byte)) {
	for ctx.Err() == nil {
		started := time.Now()
		body, status, err := h.get(ctx)
		delivered := 0
		switch {
		case ctx.Err() != nil:
			return
		case h.failed(err):
			return
		case err != nil:
			h.log.Debug("http messaging long-poll failed", "check", h.checkID, "url", h.safeReceive, "err", err)
		case status == http.StatusOK:
			delivered = h.deliverBody(body, deliver)
		}
		if delivered > 0 && err == nil {
			continue
		}
		if wait := h.interval - time.Since(started); wait > 0 {
			if !sleepCtx(ctx, wait) {
				return
			}
		}
	}
}

// failed reports whether err ends the receive loop, failing the run: a
// body or event over max_message_bytes would be so again at the next read,
// and no message in it would ever be seen. Other errors may pass.
func (h *httpTransport) failed(err error) bool {
	var tooBig *messageTooBigError
	if !errors.As(err, &tooBig) {
		return false
	}
	h.fail(fmt.Errorf("read %s: %w", h.safeReceive, err))
	return true
}

// sleepCtx waits for d or until ctx is done; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// openStream opens the event stream, resuming after lastEventID when set.
func (h *httpTransport) openStream(ctx context.Context, lastEventID string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.receiveURL, nil)
	if err != nil {
		return nil, err
	}
	h.addHeaders(req)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, urlErrorCause(err)
	}
	mediaType, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	switch {
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, fmt.Errorf("status %s", resp.Status)
	case strings.TrimSpace(mediaType) != "text/event-stream":
		resp.Body.Close()
		return nil, fmt.Errorf("content type %q, want text/event-stream", mediaType)
	}
	return resp, nil
}

// readStreams reads events from stream, and reopens the stream when it ends,
// until ctx is done.
func (h *httpTransport) readStreams(ctx context.Context, stream *http.Response, deliver func([]byte)) {
	var lastEventID string
	for {
		var err error
		lastEventID, err = h.readEvents(stream.Body, lastEventID, deliver)
		stream.Body.Close()
		if h.failed(err) {
			return
		}
		for {
			if !sleepCtx(ctx, h.interval) {
				return
			}
			var err error
			stream, err = h.openStream(ctx, lastEventID)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			h.log.Debug("http messaging reopening event stream failed", "check", h.checkID, "url", h.safeReceive, "err", err)
		}
	}
}

// readEvents parses one text/event-stream body, delivering the payloads found
// in each event's data; it returns the last event id seen, and an error when
// a line or an event's data exceeds max_message_bytes.
func (h *httpTransport) readEvents(body io.Reader, lastEventID string, deliver func([]byte)) (string, error) {
	scanner := bufio.NewScanner(body)
	scanner.Buffer(make([]byte, 0, min(4096, h.limit)), int(min(h.limit, math.MaxInt32)))
	var data bytes.Buffer
	for scanner.Scan() {
		line := scanner.Bytes()
		if len(line) == 0 { // a blank line dispatches the event
			for _, m := range h.extract.FindAllSubmatch(data.Bytes(), -1) {
				payload := m[0]
				if len(m) > 1 {
					payload = m[1]
				}
				deliver(bytes.Clone(payload))
			}
			data.Reset()
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			if int64(data.Len()+1+len(value)) > h.limit {
				return lastEventID, &messageTooBigError{what: "event", limit: h.limit}
			}
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.Write(value)
		case "id":
			lastEventID = string(value)
		}
	}
	if errors.Is(scanner.Err(), bufio.ErrTooLong) {
		return lastEventID, &messageTooBigError{what: "event stream line", limit: h.limit, err: scanner.Err()}
	}
	return lastEventID, nil
}

func (h *httpTransport) addHeaders(req *http.Request) {
	for name, values := range h.header {
		req.Header[name] = values
	}
}

// Publish sends one payload and expects a 2xx answer.
func (h *httpTransport) Publish(ctx context.Context, payload []byte) error {
	var body bytes.Buffer
	data := httpTemplateData{Payload: string(payload), AgentID: h.agentID, CheckID: h.checkID}
	if err := h.body.Execute(&body, data); err != nil {
		return fmt.Errorf("render body_template: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, h.method, h.sendURL, &body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", h.method, h.safeSend, err)
	}
	h.addHeaders(req)
	req.Header.Set("Content-Type", h.contentType)
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", h.method, h.safeSend, urlErrorCause(err))
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: status %s", h.method, h.safeSend, resp.Status)
	}
	return nil
}

// Close stops the receive loop (cancelling any request in flight) and drops
// idle connections. Chat messages stay: a chat API has no generic delete.
func (h *httpTransport) Close() error {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.cancel = nil
	}
	h.client.CloseIdleConnections()
	return nil
}

// urlErrorCause strips *url.Error's wrapping, which repeats the full url with
// its query and userinfo (both may hold secrets); the caller names the url.
func urlErrorCause(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
