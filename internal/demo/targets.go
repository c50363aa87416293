package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/miekg/dns"
)

// Paths every target serves.
const (
	healthPath = "/v1/health"
	echoPath   = "/v1/chat/echo" // WebSocket echo, on targets of WebSocket features
)

// reopenWait bounds how long a target retries to listen on its port again: a
// short-lived client connection may hold the port for a moment.
const (
	reopenWait  = 3 * time.Second
	reopenRetry = 25 * time.Millisecond
)

// Target is the server of one feature on one site: an HTTP API (and, for some
// features, a WebSocket echo, a DNS name and brokers) that does what its
// script says.
type Target struct {
	Service string
	Feature string
	Site    string
	Fail    Failure
	// Script is what the timeline makes of this target, at speed 1.
	Script []Phase
	// Addr is the HTTP listener's address; it stays the same when the listener
	// is closed and opened again.
	Addr string
	// DNSName is the name the zone answers for it ("" without a DNS check).
	DNSName string

	slowDelay time.Duration
	webSocket bool
	brokers   *brokers // nil unless the feature has messaging checks
	upstream  *Target  // a gateway's: the target it forwards to (nil: none)
	logger    *slog.Logger
	closing   context.Context // cancelled by close: ends WebSocket echoes
	cancel    context.CancelFunc

	mu    sync.Mutex
	app   app // the message API's state (app.go)
	state State
	srv   *http.Server // nil while the listener is closed
	done  chan struct{}
}

// Key is "service/feature".
func (t *Target) Key() string { return t.Service + "/" + t.Feature }

// startTarget listens on a free loopback port and serves, Up.
func startTarget(t *Target) error {
	t.closing, t.cancel = context.WithCancel(context.Background())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo target %s@%s: listen: %w", t.Key(), t.Site, err)
	}
	t.Addr = l.Addr().String()
	t.serve(l)
	return nil
}

// serve starts an HTTP server on l; call with t.mu held or before sharing t.
func (t *Target) serve(l net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+healthPath, t.health)
	t.routeApp(mux)
	if t.webSocket {
		mux.HandleFunc("GET "+echoPath, t.echo)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(t.logger.Handler(), slog.LevelDebug)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.srv, t.done = srv, done
}

// State is the target's current state.
func (t *Target) State() State {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}

// setState makes the target do s: it closes or reopens the listener and stops
// or starts the brokers as needed, and returns once that is done.
func (t *Target) setState(s State) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s == t.state {
		return nil
	}
	t.state = s
	var errs []error
	if s == Down {
		if t.Fail == Refused {
			t.stopListening()
		}
		if t.brokers != nil {
			t.brokers.stop()
		}
		return nil
	}
	if t.srv == nil {
		if err := t.listenAgain(); err != nil {
			errs = append(errs, err)
		}
	}
	if t.brokers != nil {
		if err := t.brokers.start(); err != nil {
			errs = append(errs, fmt.Errorf("demo target %s@%s: %w", t.Key(), t.Site, err))
		}
	}
	return errors.Join(errs...)
}

// stopListening closes the listener and every connection; call with t.mu held.
func (t *Target) stopListening() {
	if t.srv == nil {
		return
	}
	_ = t.srv.Close()
	<-t.done
	t.srv, t.done = nil, nil
}

// listenAgain opens the listener on the same address; call with t.mu held.
func (t *Target) listenAgain() error {
	deadline := time.Now().Add(reopenWait)
	for {
		l, err := net.Listen("tcp", t.Addr)
		if err == nil {
			t.serve(l)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo target %s@%s: listen on %s again: %w", t.Key(), t.Site, t.Addr, err)
		}
		time.Sleep(reopenRetry) // the port is held by a client for a moment
	}
}

// close stops the target for good.
func (t *Target) close() {
	t.cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopListening()
	if t.brokers != nil {
		t.brokers.close()
	}
}

// answer says how to answer now: the state and, when Slow, the delay. A
// gateway fails while its upstream is Down.
func (t *Target) answer() (State, time.Duration) {
	upstreamDown := t.upstream != nil && t.upstream.State() == Down
	t.mu.Lock()
	defer t.mu.Unlock()
	if upstreamDown {
		return Down, 0
	}
	return t.state, t.slowDelay
}

func (t *Target) health(w http.ResponseWriter, r *http.Request) {
	state, delay := t.answer()
	w.Header().Set("Content-Type", "application/json")
	switch state {
	case Down:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "{\"status\":\"unavailable\",\"feature\":%q,\"site\":%q}\n", t.Key(), t.Site)
		return
	case Slow:
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	fmt.Fprintf(w, "{\"status\":\"ok\",\"feature\":%q,\"site\":%q}\n", t.Key(), t.Site)
}

// echo sends back every frame it reads, like a chat server relaying a message.
func (t *Target) echo(w http.ResponseWriter, r *http.Request) {
	if state, _ := t.answer(); state == Down {
		http.Error(w, "chat service unavailable", http.StatusServiceUnavailable)
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	// A hijacked connection outlives http.Server.Close: end it with the target.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(t.closing, cancel)
	defer stop()
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		if state, _ := t.answer(); state == Down {
			_ = conn.Close(websocket.StatusTryAgainLater, "chat service unavailable")
			return
		}
		if err := conn.Write(ctx, typ, data); err != nil {
			return
		}
	}
}

// zone is the authoritative DNS server of kakao.demo.: each target's name
// answers A 127.0.0.1 unless the target is Down (then SERVFAIL).
type zone struct {
	addr  string
	names map[string]*Target // fully qualified, lower case
	srv   *dns.Server
}

// zoneOrigin is the demo's DNS zone.
const zoneOrigin = "kakao.demo."

// dnsName is the name of a feature's target in the zone.
func dnsName(service, feature, site string) string {
	return feature + "." + service + "." + site + "." + zoneOrigin
}

// startZone serves names on a free loopback UDP port.
func startZone(names map[string]*Target) (*zone, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo DNS zone %s: listen: %w", zoneOrigin, err)
	}
	z := &zone{addr: pc.LocalAddr().String(), names: names}
	mux := dns.NewServeMux()
	mux.HandleFunc(zoneOrigin, z.serve)
	started := make(chan struct{})
	z.srv = &dns.Server{PacketConn: pc, Handler: mux, NotifyStartedFunc: func() { close(started) }}
	failed := make(chan error, 1)
	go func() { failed <- z.srv.ActivateAndServe() }()
	select {
	case <-started:
		return z, nil
	case err := <-failed:
		return nil, fmt.Errorf("demo DNS zone %s on %s: %w", zoneOrigin, z.addr, err)
	}
}

func (z *zone) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	t, ok := z.names[strings.ToLower(q.Name)]
	switch {
	case !ok:
		m.Rcode = dns.RcodeNameError
	case t.State() == Down:
		m.Rcode = dns.RcodeServerFailure
		m.Authoritative = false
	case q.Qtype == dns.TypeA:
		m.Answer = append(m.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A:   net.IPv4(127, 0, 0, 1),
		})
	}
	_ = w.WriteMsg(m)
}

func (z *zone) close() { _ = z.srv.Shutdown() }
