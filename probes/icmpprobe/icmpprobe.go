package icmpprobe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/vigil-monitoring/vigil/probes"
)

// Phases of an icmp run: resolve only for a host name; setup, opening the
// socket; rtt, from sending the echo to its reply.
const (
	phaseSetup = "setup"
	phaseRTT   = "rtt"
)

// maxStrayMessages bounds the ICMP messages a run reads past that are not
// its reply: a raw socket sees every ICMP message of the host.
const maxStrayMessages = 1024

// socketKind is how the echo is sent.
type socketKind int

const (
	socketUnprivileged socketKind = iota // SOCK_DGRAM, IPPROTO_ICMP: a ping socket
	socketRaw                            // SOCK_RAW: root or CAP_NET_RAW
)

func (k socketKind) String() string {
	if k == socketRaw {
		return "raw"
	}
	return "unprivileged"
}

// Prober runs icmp checks. Runs of one Prober may overlap only in tests; the
// sequence number is atomic anyway.
type Prober struct {
	plan    *plan
	checkID string
	logger  *slog.Logger
	payload []byte
	seq     atomic.Uint32

	// kinds are the socket kinds tried in order, and open opens one; tests
	// replace them to take one path or to be refused.
	kinds []socketKind
	open  func(kind socketKind, v6 bool, source netip.Addr, pl *plan) (net.PacketConn, error)
}

// New builds a Prober from a validated Config.
func New(cfg *Config, opts probes.Options) (*Prober, error) {
	p, err := cfg.compile()
	if err != nil {
		return nil, fmt.Errorf("icmp probe %s: %w", opts.CheckID, err)
	}
	payload := bytes.Repeat([]byte("vigil "), p.payloadSize/6+1)[:p.payloadSize]
	return &Prober{plan: p, checkID: opts.CheckID, logger: opts.Logger, payload: payload,
		kinds: []socketKind{socketUnprivileged, socketRaw}, open: openSocket}, nil
}

// Probe sends one echo request and waits for its reply. It returns by ctx's
// deadline, and at once when ctx is canceled.
func (p *Prober) Probe(ctx context.Context) *probes.Result {
	return probes.Run(ctx, "icmp", p.checkID, p.logger, p.run)
}

// run does the work of Probe, filling r's phases and ICMP info.
func (p *Prober) run(ctx context.Context, r *probes.Result) error {
	ep := p.plan.endpoint
	ip, target, err := probes.Resolve(ctx, r, ep)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // the reply on loopback could beat the cancellation
	}
	start := time.Now()
	conn, kind, err := p.openAny(ip.Is6())
	r.Phases = append(r.Phases, probes.Phase{Name: phaseSetup, Duration: time.Since(start)})
	if err != nil {
		return fmt.Errorf("%s: setup: %w", target, err)
	}
	defer conn.Close()
	stop := probes.BindConn(ctx, conn)
	defer stop()

	start = time.Now()
	ttl, err := p.echo(conn, kind, ip)
	r.Phases = append(r.Phases, probes.Phase{Name: phaseRTT, Duration: time.Since(start)})
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	r.ICMP = &probes.ICMPInfo{Socket: kind.String(), ReplyTTL: ttl}
	return nil
}

// openAny opens the first socket kind the kernel allows; when it refuses
// every kind, the error says what would allow each.
func (p *Prober) openAny(v6 bool) (net.PacketConn, socketKind, error) {
	var refused []error
	for _, kind := range p.kinds {
		conn, err := p.open(kind, v6, p.plan.endpoint.Source(), p.plan)
		if err == nil {
			return conn, kind, nil
		}
		if !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EPROTONOSUPPORT) {
			return nil, kind, fmt.Errorf("open %s ICMP socket: %w", kind, err)
		}
		refused = append(refused, fmt.Errorf("%s: %w", needs(kind), err))
	}
	return nil, 0, fmt.Errorf("no ICMP socket allowed: %w", errors.Join(refused...))
}

// needs says what the kernel wants before it opens a socket of kind.
func needs(kind socketKind) string {
	if kind == socketRaw {
		return "a raw socket needs root or CAP_NET_RAW"
	}
	rangeText := "?"
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range"); err == nil && len(b) < 64 {
		rangeText = strings.Join(strings.Fields(string(b)), " ")
	}
	return fmt.Sprintf("a ping socket needs group %d within sysctl net.ipv4.ping_group_range (now %q)", os.Getgid(), rangeText)
}

// echo sends one echo request to ip and reads until its reply; it returns
// the reply's TTL.
func (p *Prober) echo(conn net.PacketConn, kind socketKind, ip netip.Addr) (int, error) {
	id, seq := int(rand.Uint32()&0xffff), int(p.seq.Add(1)&0xffff)
	var typ, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1 // ICMP
	if ip.Is6() {
		typ, replyType, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58 // ICMPv6
	}
	msg, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: p.payload}}).Marshal(nil)
	if err != nil {
		return -1, fmt.Errorf("build echo: %w", err)
	}
	if err := writeTo(conn, msg, ip); err != nil {
		return -1, fmt.Errorf("send echo: %w", probes.NetCause(err))
	}
	buf := make([]byte, len(msg)+60+8) // room for an IPv4 header and a longer reply
	oob := make([]byte, 128)
	for range maxStrayMessages {
		got, from, ttl, err := readFrom(conn, buf, oob)
		if err != nil {
			return -1, fmt.Errorf("read reply: %w", probes.NetCause(err))
		}
		if from != ip.Unmap() {
			continue
		}
		reply, err := icmp.ParseMessage(proto, got)
		if err != nil || reply.Type != replyType {
			continue
		}
		// A ping socket's kernel sets the id and delivers only replies to it.
		if e, ok := reply.Body.(*icmp.Echo); ok && e.Seq == seq && (kind == socketUnprivileged || e.ID == id) {
			if !bytes.Equal(e.Data, p.payload) {
				return ttl, fmt.Errorf("echo reply %d carries %d bytes unlike the %d sent", seq, len(e.Data), len(p.payload))
			}
			return ttl, nil
		}
	}
	return -1, fmt.Errorf("read reply: %d ICMP messages were not the echo reply", maxStrayMessages)
}
