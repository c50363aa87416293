package probes

import (
	"context"
	"log/slog"
	"time"
)

// Prober runs one check. Probe must return when ctx is done (the scheduler bounds
// ctx by the check's timeout) and must never panic on bad targets: every failure is
// reported in the Result. A Prober may be called from one goroutine at a time; the
// scheduler never overlaps runs of the same check.
type Prober interface {
	Probe(ctx context.Context) *Result
}

// Closer is implemented by probers that hold resources between runs (persistent
// connections). The scheduler calls Close when a check is removed or replaced.
type Closer interface {
	Close() error
}

// Options carry what a probe needs from the agent to be built.
type Options struct {
	// AgentID identifies this agent (region plus host); messaging probes put it in
	// every message so that agents sharing a topic ignore each other's messages.
	AgentID string
	// CheckID is "service/feature/check"; it names client ids and errors.
	CheckID string
	// Logger is never nil when set by the agent; probes log only at debug level.
	Logger *slog.Logger
	// ArtifactDir is where a check may keep files a person looks at after a
	// failed run (a browser check's screenshots), under the agent's storage
	// path; "" when the agent keeps none (no storage path).
	ArtifactDir string
	// Browser lends headless browsers to browser checks; nil when the agent has
	// none configured or found (the browser kind then fails its runs clearly).
	Browser Browser
	// Capture asks the prober to keep what a journey step extracts variables
	// from in Result.Captured: the HTTP response body (bounded by the check's
	// body_size_limit), headers and cookies, or the payload of a received
	// message. Only journey steps with extract set it; other runs keep nothing.
	Capture bool
}

// Browser lends a headless browser (probes/browserprobe.Pool). Allocate blocks
// until one of a bounded number of slots is free or ctx is done, and returns a
// context that browser actions run in (a fresh profile per call) and a release
// function that ends the browser and everything it started; release is safe to
// call more than once.
type Browser interface {
	Allocate(ctx context.Context) (browserCtx context.Context, release func(), err error)
}

// Phase is one timed step of a run, e.g. "connect" or "deliver".
type Phase struct {
	Name     string
	Duration time.Duration
}

// Result is what one run yields. Start is the time the run began; everything
// downstream (SLA evaluation, last-run timestamps) is stamped with it.
type Result struct {
	Start    time.Time
	Duration time.Duration
	// Success is true when the run passed every validation.
	Success bool
	// TimedOut is true when the run failed because its context deadline passed.
	TimedOut bool
	// Err explains a failure; nil on success. It never contains a secret.
	Err error
	// Phases of the run in order; names per kind are listed in docs/DESIGN.md.
	Phases []Phase

	HTTP      *HTTPInfo
	DNS       *DNSInfo
	Messaging *MessagingInfo
	TCP       *TCPInfo     // tcp kind
	TLS       *TLSInfo     // tls kind, and tcp or grpc over TLS
	ICMP      *ICMPInfo    // icmp kind
	SSH       *SSHInfo     // ssh kind
	GRPC      *GRPCInfo    // grpc kind
	Journey   *JourneyInfo // journey kind
	Browser   *BrowserInfo // browser kind, and a journey's browser steps
	// Captured is what the run saw, kept only when Options.Capture was set
	// and the run got that far; nil otherwise.
	Captured *Captured
}

// Captured is the content of a run that a journey step extracts variables
// from. It may hold secrets (a login's token): it is never logged or shown.
type Captured struct {
	// Body is the HTTP response body as decoded (at most body_size_limit
	// bytes), or the payload of the message a receive step matched.
	Body []byte
	// Header is the final HTTP response's header, keys in canonical form.
	Header map[string][]string
	// Cookies are the cookies the responses of the run set (a redirect's
	// too), by name; a later one of the same name wins.
	Cookies map[string]string
}

// JourneyInfo holds the steps of a journey run in order, one per configured
// step, including steps skipped after a failure.
type JourneyInfo struct {
	Steps []StepInfo
	// FailedStep is the name of the first step that failed; "" on success.
	FailedStep string
}

// StepInfo is one step of a journey run.
type StepInfo struct {
	Name     string
	Kind     string // the step's check kind: "http", "messaging", ...
	Duration time.Duration
	Success  bool
	// Skipped is true for a step not run because an earlier step failed (and
	// the step is not always: true).
	Skipped bool
	// Err is the step's failure, with secrets already redacted; "" on success.
	Err    string
	Phases []Phase
}

// BrowserInfo holds what a browser run saw.
type BrowserInfo struct {
	// Screenshot is the file name (under Options.ArtifactDir) of the screenshot
	// taken when the run failed; "" when none was taken.
	Screenshot string
	// ConsoleErrors are the page's console errors and uncaught exceptions.
	ConsoleErrors []string
	// FailedRequests are "METHOD URL: reason" of requests that failed or got
	// a status of 400 or more.
	FailedRequests []string
}

// HTTPInfo holds what an HTTP run learned about the final response.
type HTTPInfo struct {
	StatusCode    int
	Version       string // "HTTP/1.1", "HTTP/2.0"
	ContentLength int64  // bytes read of the body (after decompression), -1 if unknown
	Redirects     int
	SSL           bool
	// CertExpiry is the earliest NotAfter in the verified (or presented) chain;
	// zero when the connection was not TLS.
	CertExpiry time.Time
}

// DNSInfo holds what a DNS run learned about the answer.
type DNSInfo struct {
	Rcode      string // "NOERROR", "SERVFAIL", ...
	Answer     int
	Authority  int
	Additional int
	// SOASerial is the serial of the first SOA record found in the answer or
	// authority section; HasSOA says whether there was one.
	SOASerial uint32
	HasSOA    bool
	// Transport the final answer came over: "udp", "tcp" or "tcp-tls".
	Transport string
	// Truncated is true when a truncated UDP answer was retried over TCP.
	Truncated bool
}

// MessagingInfo holds the counts of a messaging round trip.
type MessagingInfo struct {
	Protocol   string
	Sent       int
	Received   int
	Lost       int
	Duplicated int
	Reordered  int
	Corrupted  int
	// RoundTrips holds publish-to-delivery times of the messages that arrived.
	RoundTrips []time.Duration
}

// Fail marks r failed with err and returns r, for terse returns in probes.
func (r *Result) Fail(err error) *Result {
	r.Success = false
	r.Err = err
	return r
}

// Phase returns the duration of the named phase and whether it was recorded.
func (r *Result) Phase(name string) (time.Duration, bool) {
	for _, p := range r.Phases {
		if p.Name == name {
			return p.Duration, true
		}
	}
	return 0, false
}

// ErrorString is Err's text, or "" when there is none.
func (r *Result) ErrorString() string {
	if r.Err == nil {
		return ""
	}
	return r.Err.Error()
}
