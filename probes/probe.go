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
	TCP       *TCPInfo  // tcp kind
	TLS       *TLSInfo  // tls kind, and tcp or grpc over TLS
	ICMP      *ICMPInfo // icmp kind
	SSH       *SSHInfo  // ssh kind
	GRPC      *GRPCInfo // grpc kind
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
