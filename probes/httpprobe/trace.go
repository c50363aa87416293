package httpprobe

import (
	"context"
	"crypto/tls"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"github.com/vigil-monitoring/vigil/probes"
)

// Phase names, in the order Result.Phases lists them (docs/DESIGN.md).
const (
	phaseResolve    = "resolve"
	phaseConnect    = "connect"
	phaseTLS        = "tls"
	phaseProcessing = "processing"
	phaseTransfer   = "transfer"
)

// requestTrace times one request of a run (a run has one per redirect hop; only
// the final one is reported). Its hooks run on the transport's goroutines and
// some may fire after RoundTrip returned (WroteRequest can race the response),
// hence atomics. Each mark is the time since start in nanoseconds, 0 when unset;
// the first call wins.
type requestTrace struct {
	start time.Time

	dnsStart, dnsDone         atomic.Int64
	connectStart, connectDone atomic.Int64
	tlsStart, tlsDone         atomic.Int64
	gotConn, wrote, firstByte atomic.Int64
	// gotHeaders marks the response head read in full; before it, a timeout
	// after the first byte cut the headers short, not the body.
	gotHeaders atomic.Int64

	// rx is the direct path's connection when it has the kernel's receive
	// times; nil otherwise. Only the probe's goroutine touches it.
	rx *stampedConn
}

func newRequestTrace(start time.Time) *requestTrace {
	return &requestTrace{start: start}
}

// traceKey carries a request's trace in its context to the transport's dialer.
type traceKey struct{}

// withTrace returns ctx carrying t, with hooks for the steps http.Transport
// takes itself (TLS, writing, reading). Resolve and connect are marked by our
// dialer, which finds t in ctx; the direct path marks every step itself and
// never builds the hooks (so a trace does not carry them: 136 bytes a run).
func (t *requestTrace) withTrace(ctx context.Context) context.Context {
	hooks := &httptrace.ClientTrace{
		TLSHandshakeStart:    func() { t.mark(&t.tlsStart) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { t.mark(&t.tlsDone) },
		GotConn:              func(httptrace.GotConnInfo) { t.mark(&t.gotConn) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { t.mark(&t.wrote) },
		GotFirstResponseByte: func() { t.mark(&t.firstByte) },
	}
	return httptrace.WithClientTrace(context.WithValue(ctx, traceKey{}, t), hooks)
}

// traceFrom returns the trace withTrace put in ctx, or nil.
func traceFrom(ctx context.Context) *requestTrace {
	t, _ := ctx.Value(traceKey{}).(*requestTrace)
	return t
}

func (t *requestTrace) mark(at *atomic.Int64) {
	at.CompareAndSwap(0, max(t.since(), 1))
}

func (t *requestTrace) since() int64 { return int64(time.Since(t.start)) }

// received returns, as marks, when the kernel received the first and the
// latest response data read on the direct path's connection; 0 where it did
// not say, or where the wall clock stepped so that a mark would fall outside
// start..now.
func (t *requestTrace) received() (first, last int64) {
	if t.rx == nil {
		return 0, 0
	}
	now := t.since()
	mark := func(unixNano int64) int64 {
		if unixNano == 0 {
			return 0
		}
		if m := unixNano - t.start.UnixNano(); m > 0 && m <= now {
			return m
		}
		return 0
	}
	f, l := t.rx.received()
	return mark(f), mark(l)
}

// markFirstByte marks the response's first byte: when the kernel received it
// if it said, else now.
func (t *requestTrace) markFirstByte() {
	if first, _ := t.received(); first != 0 {
		t.firstByte.CompareAndSwap(0, first)
		return
	}
	t.mark(&t.firstByte)
}

// bodyDone is the mark at which the body had been read: when the kernel
// received its last byte if it said, else now.
func (t *requestTrace) bodyDone() int64 {
	if _, last := t.received(); last != 0 {
		return last
	}
	return t.since()
}

// phases fills the five http phases; bodyDone is the mark at which the body was
// read, 0 if it was not. A phase that did not happen is 0.
func (t *requestTrace) phases(dst *[5]probes.Phase, bodyDone int64) {
	firstByte := t.firstByte.Load()
	// The request was sent when the write returned; but the first byte's
	// time may be the kernel's, and then a goroutine that got its core back
	// only after the answer came marks the write late. The connection's
	// mark, taken before the write, never is.
	requestSent := t.wrote.Load()
	if requestSent == 0 || (firstByte != 0 && requestSent > firstByte) {
		requestSent = t.gotConn.Load()
	}
	dst[0] = probes.Phase{Name: phaseResolve, Duration: span(t.dnsStart.Load(), t.dnsDone.Load())}
	dst[1] = probes.Phase{Name: phaseConnect, Duration: span(t.connectStart.Load(), t.connectDone.Load())}
	dst[2] = probes.Phase{Name: phaseTLS, Duration: span(t.tlsStart.Load(), t.tlsDone.Load())}
	// A server may answer before it has read the whole request: then the
	// processing phase is 0, not negative.
	dst[3] = probes.Phase{Name: phaseProcessing, Duration: span(requestSent, firstByte)}
	dst[4] = probes.Phase{Name: phaseTransfer, Duration: span(firstByte, bodyDone)}
}

func span(from, to int64) time.Duration {
	if from == 0 || to < from {
		return 0
	}
	return time.Duration(to - from)
}

// stage names how far the request got, for timeout errors.
func (t *requestTrace) stage() string {
	switch {
	case t.gotHeaders.Load() != 0:
		return "reading the body"
	case t.firstByte.Load() != 0:
		return "reading the response headers"
	case t.tlsStart.Load() != 0 && t.tlsDone.Load() == 0:
		return "in the TLS handshake"
	case t.gotConn.Load() != 0:
		return "waiting for the response"
	case t.dnsStart.Load() != 0 && t.dnsDone.Load() == 0:
		return "resolving"
	default:
		return "connecting"
	}
}
