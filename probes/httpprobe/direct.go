package httpprobe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/vigil-monitoring/vigil/probes"
)

// The direct path sends a plain-HTTP request without a proxy or OAuth2 on the
// probe's own goroutine: dial, write, read, using net/http's own request
// writer and response parser. http.Transport would add a dial goroutine, a read and a
// write goroutine, channels and 8 KiB of buffers per connection, about twice
// the CPU of the request itself, for a connection that serves one request.
// https, proxied and OAuth2 requests go through the transport, where the TLS
// handshake dominates the cost and HTTP/2, CONNECT and SOCKS are needed.

// responseReaders are the buffered readers of direct connections.
var responseReaders sync.Pool

// maxInterim bounds the 1xx responses skipped before the final one.
const maxInterim = 8

// direct reports whether the hop goes by the direct path.
func (p *Prober) direct(h *hop) bool {
	return h.url.Scheme == "http" && !p.plan.viaTransport
}

// sendDirect sends the hop's request on a new connection and reads the
// response head. The response body closes the connection.
func (p *Prober) sendDirect(ctx context.Context, h *hop, tr *requestTrace) (*http.Response, error) {
	conn, err := p.dialDirect(ctx, tr, hostPort(h.url.Host, "80"))
	if err != nil {
		return nil, err
	}
	tr.mark(&tr.gotConn)
	// The deadline bounds every read and write; cancellation (agent shutdown)
	// cuts them short through a deadline in the past.
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := noWatch
	if !probes.CanceledOnlyByDeadline(ctx) {
		stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	}
	fail := func(err error) (*http.Response, error) {
		stop()
		conn.Close()
		return nil, err
	}

	req, err := writeDirect(conn, h)
	if err != nil {
		return fail(fmt.Errorf("write request: %w", err))
	}
	tr.mark(&tr.wrote)

	body := &connBody{conn: conn, stop: stop}
	body.head = headLimit{r: conn, left: p.plan.maxHeaderBytes}
	br, _ := responseReaders.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReader(&body.head)
	} else {
		br.Reset(&body.head)
	}
	body.br = br
	resp, err := p.readResponse(br, req, &body.head, tr)
	if err != nil {
		body.Close()
		return nil, err
	}
	body.Reader = resp.Body
	resp.Body = body
	return resp, nil
}

// noWatch stops no watch: a scheduled run's context is canceled only by the
// deadline its socket has already (probes.NewRunContext).
func noWatch() bool { return false }

// writeDirect writes the hop's request on conn: its prerendered head if it
// has one, else the request built and rendered now. It returns the request
// the response is read for.
func writeDirect(conn net.Conn, h *hop) (*http.Request, error) {
	if h.head != nil {
		_, err := conn.Write(h.head)
		return methodRequests[h.method], err
	}
	req := h.newRequest()
	req.Close = true // "Connection: close", as with keep-alives disabled
	buf := buffers.Get().(*bytes.Buffer)
	buf.Reset()
	err := req.Write(buf) // bytes.Buffer is buffered: Write adds no bufio.Writer
	if err == nil {
		_, err = conn.Write(buf.Bytes())
	}
	buffers.Put(buf)
	return req, err
}

// methodRequests stand for a prerendered request when its response is read:
// http.ReadResponse reads only the request's method (a response to HEAD has
// no body). Shared by every prober, they are never written to.
var methodRequests = map[string]*http.Request{}

func init() {
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		methodRequests[m] = &http.Request{Method: m}
	}
}

// renderDirectHead renders the configured request as the direct path sends
// it, or returns nil when a run must build it: another path (https, a proxy,
// OAuth2), a body, a method without a shared request, or one net/http would
// refuse to write (the run reports that error then).
func (p *Prober) renderDirectHead() []byte {
	h := hop{method: p.plan.method, url: p.plan.url, header: p.plan.header, host: p.plan.host}
	if !p.direct(&h) || len(p.plan.body) > 0 || methodRequests[h.method] == nil {
		return nil
	}
	// A start renders one head per prober: the request and the buffer are
	// reused (at 50,000 checks, 26 MB of a start's garbage when made anew).
	req := renderRequests.Get().(*http.Request)
	h.fillRequest(req)
	req.Close = true
	buf := buffers.Get().(*bytes.Buffer)
	buf.Reset()
	var head []byte
	if err := req.Write(buf); err == nil {
		head = bytes.Clone(buf.Bytes())
	}
	*req = http.Request{}
	renderRequests.Put(req)
	buffers.Put(buf)
	return head
}

// renderRequests are renderDirectHead's requests.
var renderRequests = sync.Pool{New: func() any { return new(http.Request) }}

// readResponse reads the response head from br, skipping 1xx responses, each
// head within max_response_header_bytes; head feeds br.
func (p *Prober) readResponse(br *bufio.Reader, req *http.Request, head *headLimit, tr *requestTrace) (*http.Response, error) {
	limit := p.plan.maxHeaderBytes
	if _, err := br.Peek(1); err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	tr.markFirstByte()
	for range maxInterim {
		head.left = limit
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			if head.left <= 0 {
				return nil, &failure{msg: fmt.Sprintf("response headers exceed max_response_header_bytes (%d)", limit), err: err}
			}
			return nil, fmt.Errorf("read response headers: %w", err)
		}
		// 1xx (100 Continue, 103 Early Hints) precede the response.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			// The body's own limit (body_size_limit) applies from here.
			head.left = math.MaxInt64
			return resp, nil
		}
	}
	return nil, fmt.Errorf("read response: more than %d 1xx responses", maxInterim)
}

// errHeadTooLong stops a response head's read at max_response_header_bytes.
var errHeadTooLong = errors.New("read limit of max_response_header_bytes reached")

// headLimit bounds the bytes read from r while a response head is read,
// as http.Transport's MaxResponseHeaderBytes does: net/http's response parser
// reads a line, or headers, for as long as the server sends them, so a
// header that never ends would grow memory until the run's timeout.
type headLimit struct {
	r    io.Reader // the connection
	left int64
}

func (l *headLimit) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errHeadTooLong
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// connBody is a direct response's body; closing it closes the connection
// without draining what is left.
type connBody struct {
	io.Reader
	conn net.Conn
	head headLimit // what br reads from
	br   *bufio.Reader
	stop func() bool
}

func (b *connBody) Close() error {
	if b.br == nil {
		return nil
	}
	b.stop()
	err := b.conn.Close()
	responseReaders.Put(b.br)
	b.br, b.Reader = nil, nil
	return err
}

// hostPort adds the default port to a URL host that has none ("h", "h:").
func hostPort(host, defaultPort string) string {
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		return host
	}
	return net.JoinHostPort(hostName(host), defaultPort)
}
