// Package target serves what the benchmarks probe, in a process of its own so
// that its CPU is never counted as the prober's: HTTP listeners answering a
// small health document on "/" and the same document exactly 50 ms later on
// "/slow50", and DNS servers answering A queries.
package target

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// HealthBody is the document every HTTP target answers, a typical health
// endpoint's (the same as httpprobe's benchmarks use).
const HealthBody = `{"status": "ok", "checks": {"db": "ok", "cache": "ok"}}`

// SlowPath answers after SlowDelay: the fidelity target.
const SlowPath = "/slow50"

// SlowDelay is how long SlowPath waits before answering.
const SlowDelay = 50 * time.Millisecond

// Hosts returns count loopback addresses starting at 127.0.0.first. Several
// source/destination pairs keep each pair's TIME_WAIT pool far from full at
// thousands of new connections a second.
func Hosts(first, count int) ([]string, error) {
	if first < 1 || count < 1 || first+count > 255 {
		return nil, fmt.Errorf("hosts 127.0.0.%d and %d more: outside 127.0.0.1-254", first, count-1)
	}
	out := make([]string, count)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{127, 0, 0, byte(first + i)}).String()
	}
	return out, nil
}

// Servers are running targets; Close stops them all.
type Servers struct {
	// Addrs are the "host:port" addresses served, in listening order.
	Addrs []string

	mu      sync.Mutex
	closers []func() error
	wg      sync.WaitGroup
}

// Close stops every server and waits for their goroutines.
func (s *Servers) Close() error {
	s.mu.Lock()
	closers := s.closers
	s.closers = nil
	s.mu.Unlock()
	var errs []error
	for _, c := range closers {
		errs = append(errs, c())
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

func (s *Servers) add(c func() error) {
	s.mu.Lock()
	s.closers = append(s.closers, c)
	s.mu.Unlock()
}

// ServedPath answers how many requests the target has served (this one not
// counted), so an in-process benchmark can count probe runs without asking
// the agent.
const ServedPath = "/-/served"

// Handler serves HealthBody on every path but SlowPath, which answers the same
// after SlowDelay, and ServedPath.
func Handler() http.Handler {
	var served atomic.Int64
	body := []byte(HealthBody)
	answer := func(w http.ResponseWriter) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		_, _ = w.Write(body)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == ServedPath {
			_, _ = w.Write(strconv.AppendInt(nil, served.Load(), 10))
			return
		}
		served.Add(1)
		if r.URL.Path == SlowPath && !waitExactly(r.Context(), SlowDelay) {
			return
		}
		answer(w)
	})
}

// spinLead is how long before its deadline waitExactly stops sleeping and
// watches the clock. Go's poller sleeps in whole milliseconds (epoll_wait's
// unit) and the kernel adds its timer slack, so a plain timer fires up to
// about a millisecond late: that would be the target's error, not the
// prober's, in every fidelity figure.
const spinLead = 1500 * time.Microsecond

// waitExactly returns true once d has passed since it was called, to within a
// few microseconds, or false as soon as ctx is done. It sleeps on a timer
// until spinLead before the deadline, then yields the processor in a loop
// until the deadline passes.
func waitExactly(ctx context.Context, d time.Duration) bool {
	deadline := time.Now().Add(d)
	if sleep := d - spinLead; sleep > 0 {
		t := time.NewTimer(sleep)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return false
		}
		runtime.Gosched()
	}
	return true
}

// ServeHTTP listens on portsPerHost ports (chosen by the kernel) of each host
// and serves Handler on all of them. Every response closes its connection, as
// a probe wants anyway, so every prober measured pays the same connection
// teardown.
func ServeHTTP(hosts []string, portsPerHost int) (*Servers, error) {
	s := &Servers{}
	srv := &http.Server{Handler: Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second}
	srv.SetKeepAlivesEnabled(false)
	s.add(srv.Close)
	for _, host := range hosts {
		for range portsPerHost {
			l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
			if err != nil {
				_ = s.Close()
				return nil, fmt.Errorf("http target: listen on %s: %w", host, err)
			}
			s.Addrs = append(s.Addrs, l.Addr().String())
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				_ = srv.Serve(l) // returns http.ErrServerClosed on Close
			}()
		}
	}
	return s, nil
}

// QueryName is the name the DNS targets answer with two A records.
const QueryName = "talk.example.com."

// dnsAnswer answers an A query for any name with two A records, anything else
// with an empty NOERROR answer.
func dnsAnswer(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) == 1 && req.Question[0].Qtype == dns.TypeA {
		name := req.Question[0].Name
		for _, ip := range []net.IP{{192, 0, 2, 1}, {192, 0, 2, 2}} {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}, A: ip})
		}
	}
	_ = w.WriteMsg(m)
}

// ServeDNS serves dnsAnswer over UDP on portsPerHost kernel-chosen ports of
// each host.
func ServeDNS(hosts []string, portsPerHost int) (*Servers, error) {
	s := &Servers{}
	for _, host := range hosts {
		for range portsPerHost {
			pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
			if err != nil {
				_ = s.Close()
				return nil, fmt.Errorf("dns target: listen on %s: %w", host, err)
			}
			srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(dnsAnswer)}
			started := make(chan struct{})
			srv.NotifyStartedFunc = func() { close(started) }
			errc := make(chan error, 1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				errc <- srv.ActivateAndServe()
			}()
			select {
			case <-started:
			case err := <-errc:
				_ = s.Close()
				return nil, fmt.Errorf("dns target: serve on %s: %w", pc.LocalAddr(), err)
			}
			s.Addrs = append(s.Addrs, pc.LocalAddr().String())
			s.add(srv.Shutdown)
		}
	}
	return s, nil
}
