package dnsprobe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/vigil-monitoring/vigil/probes"
)

// phaseRequest is the one phase of a dns run: the whole exchange, including the
// TCP retry of a truncated UDP answer.
const phaseRequest = "request"

// maxStrayDatagrams bounds how many UDP datagrams that do not answer our query
// (late answers to an earlier run, spoofing attempts) a run reads past.
const maxStrayDatagrams = 8

// pooledBufSize fits the query and any answer that respects the usual UDP
// limits; bigger TCP answers get a buffer of their own.
const pooledBufSize = 4096

// bufPool holds the buffers runs read answers into, shared by all probers so
// that an idle check holds none. They are small so that a pool emptied by the
// GC between runs costs little to refill.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, pooledBufSize)
	return &b
}}

// Prober runs dns checks. It is safe for concurrent use: everything it keeps
// between runs is read-only after New.
type Prober struct {
	plan    *plan
	checkID string
	logger  *slog.Logger

	client      *dns.Client // dials the configured transport
	retryClient *dns.Client // dials TCP for a truncated UDP answer; nil unless udp

	// query is the packed query behind a 2-byte TCP length prefix, built once;
	// each run copies it and writes a fresh id.
	query []byte
	// question is the question section of query, to recognise our answer.
	question []byte
	// what names the query in errors: "talk.example.com A" or
	// "version.bind CH TXT".
	what string
	// literalTarget is "ip:port" when the server is an IP literal.
	literalTarget string
	// udpReadSize is one more than the biggest UDP answer allowed (512, or the
	// EDNS0 size), so a datagram that fills it was too big and may be cut.
	udpReadSize int
}

// New builds a Prober from a validated Config.
func New(cfg *Config, opts probes.Options) (*Prober, error) {
	p, err := cfg.compile()
	if err != nil {
		return nil, fmt.Errorf("dns probe %s: %w", opts.CheckID, err)
	}

	msg := new(dns.Msg)
	msg.SetQuestion(p.qname, p.qtype)
	msg.Question[0].Qclass = p.qclass
	msg.RecursionDesired = p.recursion
	msg.Id = 0 // set per run
	plain, err := msg.Pack()
	if err != nil {
		return nil, fmt.Errorf("dns probe %s: pack query for %s: %w", opts.CheckID, cfg.QueryName, err)
	}
	question := plain[dnsHeaderLen:]
	if p.ednsSize != 0 {
		msg.SetEdns0(p.ednsSize, false)
	}
	packed, err := msg.Pack()
	if err != nil {
		return nil, fmt.Errorf("dns probe %s: pack query for %s: %w", opts.CheckID, cfg.QueryName, err)
	}
	query := make([]byte, 2+len(packed))
	binary.BigEndian.PutUint16(query, uint16(len(packed)))
	copy(query[2:], packed)

	what := cfg.QueryName + " " + dns.Type(p.qtype).String()
	if p.qclass != dns.ClassINET {
		what = cfg.QueryName + " " + dns.Class(p.qclass).String() + " " + dns.Type(p.qtype).String()
	}

	pr := &Prober{
		plan:     p,
		checkID:  opts.CheckID,
		logger:   opts.Logger,
		client:   p.newClient(p.transport),
		query:    query,
		question: question,
		what:     what,

		udpReadSize: max(dns.MinMsgSize, int(p.ednsSize)) + 1,
	}
	if p.transport == transportUDP {
		pr.retryClient = p.newClient(transportTCP)
	}
	if p.addr.IsValid() {
		pr.literalTarget = p.addr.String()
	}
	return pr, nil
}

// newClient returns a client dialing over transport. Its Dialer has no timeout of
// its own, so the run's context alone bounds the dial (miekg/dns would otherwise
// cap it at 2 s).
func (p *plan) newClient(transport string) *dns.Client {
	dialer := &net.Dialer{}
	if p.source.IsValid() {
		if transport == transportUDP {
			dialer.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.source, 0))
		} else {
			dialer.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(p.source, 0))
		}
	}
	return &dns.Client{Net: transport, Dialer: dialer, TLSConfig: p.tlsConfig}
}

// Probe sends one query and checks the answer. It returns by ctx's deadline,
// and at once when ctx is canceled.
func (p *Prober) Probe(ctx context.Context) *probes.Result {
	r := &probes.Result{Start: time.Now()}
	run := p.run(ctx, r)
	r.Duration = time.Since(r.Start)
	if run != nil {
		p.fail(ctx, r, run)
	} else {
		r.Success = true
	}
	return r
}

// runError is a failed run: where it failed (for the error prefix) and why.
type runError struct {
	target    string // the server as errors show it: "ip:port", "ip:port (name)" or "name:port"
	transport string
	err       error
	answer    *dns.Msg // the answer, when there was one (for debug logs)
}

// run does the work of Probe, filling r's phases and DNS info; it returns nil
// when every check passed.
func (p *Prober) run(ctx context.Context, r *probes.Result) *runError {
	addr, target, err := p.target(ctx)
	if err != nil {
		return &runError{target: target, transport: p.plan.transport, err: err}
	}

	bufp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bufp)
	buf := *bufp

	transport, truncated := p.plan.transport, false
	start := time.Now()
	answer, oversized, err := p.exchange(ctx, p.client, addr, transport != transportUDP, buf)
	if err == nil && transport == transportUDP && (answer[2]&tcBit != 0 || oversized) {
		transport, truncated = transportTCP, true
		answer, _, err = p.exchange(ctx, p.retryClient, addr, true, buf)
		if err != nil {
			err = fmt.Errorf("retry of a truncated udp answer: %w", err)
		}
	}
	r.Phases = []probes.Phase{{Name: phaseRequest, Duration: time.Since(start)}}
	if err != nil {
		return &runError{target: target, transport: transport, err: err}
	}
	return p.checkAnswer(r, answer, target, transport, truncated)
}

// checkAnswer decodes the answer (whatever bytes the server sent), fills r's
// DNS info, and applies valid_rcodes and the RR validators; it returns nil
// when every check passed.
func (p *Prober) checkAnswer(r *probes.Result, answer []byte, target, transport string, truncated bool) *runError {
	msg := new(dns.Msg)
	if err := msg.Unpack(answer); err != nil {
		return &runError{target: target, transport: transport, err: fmt.Errorf("malformed answer: %w", err)}
	}
	info := &probes.DNSInfo{
		Rcode:      rcodeName(msg.Rcode),
		Answer:     len(msg.Answer),
		Authority:  len(msg.Ns),
		Additional: len(msg.Extra),
		Transport:  transport,
		Truncated:  truncated,
	}
	info.SOASerial, info.HasSOA = firstSOASerial(msg.Answer, msg.Ns)
	r.DNS = info

	if err := p.plan.checkRcode(msg.Rcode); err != nil {
		return &runError{target: target, transport: transport, err: err, answer: msg}
	}
	sections := [3][]dns.RR{msg.Answer, msg.Ns, msg.Extra}
	for i, s := range p.plan.sections {
		if err := s.checkRRs(sections[i]); err != nil {
			return &runError{target: target, transport: transport, err: err, answer: msg}
		}
	}
	return nil
}

// fail records run's error in r with what failed and where, and whether the
// deadline caused it.
func (p *Prober) fail(ctx context.Context, r *probes.Result, run *runError) {
	err := run.err
	timeout := errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)
	switch {
	case errors.Is(err, context.Canceled), timeout && errors.Is(ctx.Err(), context.Canceled):
		// Cancellation reaches the connection as an expired deadline; say what
		// really happened.
		err = fmt.Errorf("run canceled: %w", context.Canceled)
	case timeout:
		r.TimedOut = true
	}
	r.Fail(fmt.Errorf("dns probe %s: query %s @%s/%s: %w", p.checkID, p.what, run.target, run.transport, err))
	if p.logger != nil && p.logger.Enabled(ctx, slog.LevelDebug) {
		attrs := []slog.Attr{slog.String("check", p.checkID), slog.String("err", r.Err.Error())}
		if run.answer != nil {
			attrs = append(attrs, slog.String("answer", run.answer.String()))
		}
		p.logger.LogAttrs(ctx, slog.LevelDebug, "dns probe failed", attrs...)
	}
}

// target returns the "ip:port" to query and the server as errors show it. The
// address is fixed for an IP literal, and resolved on every run for a host name
// so that a moved server is followed.
func (p *Prober) target(ctx context.Context) (addr, shown string, err error) {
	if p.literalTarget != "" {
		return p.literalTarget, p.literalTarget, nil
	}
	pl := p.plan
	hostPort := net.JoinHostPort(pl.host, strconv.Itoa(int(pl.port)))
	network := "ip4"
	if pl.preferIP6 {
		network = "ip6"
	}
	if pl.fallback {
		network = "ip"
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, network, pl.host)
	if err != nil {
		return "", hostPort, fmt.Errorf("resolve %s: %w", pl.host, err)
	}
	var chosen, other netip.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		if ip.Is6() == pl.preferIP6 {
			chosen = ip
			break
		}
		if !other.IsValid() {
			other = ip
		}
	}
	if !chosen.IsValid() && pl.fallback {
		chosen = other
	}
	if !chosen.IsValid() {
		want := "ip4"
		if pl.preferIP6 {
			want = "ip6"
		}
		return "", hostPort, fmt.Errorf("resolve %s: no %s address", pl.host, want)
	}
	addr = netip.AddrPortFrom(chosen, pl.port).String()
	return addr, addr + " (" + pl.host + ")", nil
}

// DNS wire format facts used to recognise an answer without decoding it.
const (
	dnsHeaderLen = 12
	qrBit        = 0x80 // in header byte 2
	tcBit        = 0x02 // in header byte 2
)

// aLongTimeAgo is a deadline in the past, which wakes blocked reads at once.
var aLongTimeAgo = time.Unix(1, 0)

// exchange sends the query over a new connection to addr ("ip:port") and
// returns the answer, read into buf when it fits. stream selects TCP framing
// (tcp, tcp-tls). oversized reports a UDP answer bigger than allowed, which the
// kernel may have cut: it is fetched again over TCP like a truncated one.
func (p *Prober) exchange(ctx context.Context, client *dns.Client, addr string, stream bool, buf []byte) (answer []byte, oversized bool, err error) {
	conn, err := p.dial(ctx, client, addr, stream)
	if err != nil {
		return nil, false, fmt.Errorf("connect: %w", netCause(err))
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if ctx.Done() != nil {
		// The deadline covers timeouts; this covers cancellation (agent shutdown).
		stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(aLongTimeAgo) })
		defer stop()
	}

	id := uint16(rand.Uint32())
	query := buf[:len(p.query)]
	copy(query, p.query)
	binary.BigEndian.PutUint16(query[2:], id)
	if !stream {
		query = query[2:]
	}
	if _, err := conn.Write(query); err != nil {
		return nil, false, fmt.Errorf("send query: %w", netCause(err))
	}
	if stream {
		answer, err = p.readStream(conn, buf, id)
		return answer, false, err
	}
	if p.udpReadSize > len(buf) {
		buf = make([]byte, p.udpReadSize)
	}
	answer, err = p.readDatagram(conn, buf[:p.udpReadSize], id)
	return answer, len(answer) == p.udpReadSize, err
}

// dial opens the exchange's connection to addr. A UDP query to an address
// goes on a socket of our own (dialUDP); TCP, TLS and scoped IPv6 addresses
// go through the client's dialer. The raw net.Conn, not the dns.Conn around
// it: dns.Conn.Write would copy the message to frame it, and the query is
// framed already.
func (p *Prober) dial(ctx context.Context, client *dns.Client, addr string, stream bool) (net.Conn, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil && !stream && ap.Addr().Zone() == "" {
		return dialUDP(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), p.plan.source)
	}
	conn, err := client.DialContext(ctx, addr)
	if err != nil {
		return nil, err
	}
	return conn.Conn, nil
}

// readStream reads one length-prefixed answer; on TCP nothing else can arrive,
// so an answer that is not ours is an error.
func (p *Prober) readStream(conn net.Conn, buf []byte, id uint16) ([]byte, error) {
	if _, err := io.ReadFull(conn, buf[:2]); err != nil {
		return nil, fmt.Errorf("read answer: %w", netCause(err))
	}
	n := int(binary.BigEndian.Uint16(buf))
	if n > len(buf) {
		buf = make([]byte, n)
	}
	answer := buf[:n]
	if _, err := io.ReadFull(conn, answer); err != nil {
		return nil, fmt.Errorf("read answer: %w", netCause(err))
	}
	if err := p.answers(answer, id); err != nil {
		return nil, err
	}
	return answer, nil
}

// readDatagram reads until a datagram answers our query, skipping a bounded
// number of strays.
func (p *Prober) readDatagram(conn net.Conn, buf []byte, id uint16) ([]byte, error) {
	var stray error
	for range maxStrayDatagrams {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("read answer: %w", netCause(err))
		}
		answer := buf[:n]
		if stray = p.answers(answer, id); stray == nil {
			return answer, nil
		}
	}
	return nil, fmt.Errorf("read answer: %d datagrams did not answer the query, the last: %w", maxStrayDatagrams, stray)
}

// answers says why msg is not the answer to our query with this id, or returns
// nil. The question is compared ignoring case (servers may echo 0x20-mixed
// case); an answer without a question (some REFUSED and FORMERR ones) passes.
func (p *Prober) answers(msg []byte, id uint16) error {
	if len(msg) < dnsHeaderLen {
		return fmt.Errorf("short answer of %d bytes", len(msg))
	}
	if got := binary.BigEndian.Uint16(msg); got != id {
		return fmt.Errorf("answer id %d does not match query id %d", got, id)
	}
	if msg[2]&qrBit == 0 {
		return errors.New("got a query, not an answer")
	}
	if binary.BigEndian.Uint16(msg[4:]) == 0 {
		return nil
	}
	q := p.question
	nameLen := len(q) - 4 // type and class follow the name
	got := msg[dnsHeaderLen:]
	if len(got) < len(q) || !bytes.EqualFold(got[:nameLen], q[:nameLen]) || !bytes.Equal(got[nameLen:len(q)], q[nameLen:]) {
		return errors.New("answer is for another question")
	}
	return nil
}

// netCause drops the *net.OpError and *os.SyscallError wrapping, whose text
// repeats the addresses the error prefix already gives.
func netCause(err error) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		err = opErr.Err
	}
	var sysErr *os.SyscallError
	if errors.As(err, &sysErr) {
		err = sysErr.Err
	}
	return err
}

// firstSOASerial returns the serial of the first SOA in the answer section, else
// in the authority section.
func firstSOASerial(answer, authority []dns.RR) (uint32, bool) {
	for _, rrs := range [2][]dns.RR{answer, authority} {
		for _, rr := range rrs {
			if soa, ok := rr.(*dns.SOA); ok {
				return soa.Serial, true
			}
		}
	}
	return 0, false
}
