package httpprobe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// dialContext is the transport's dialer; the request's trace rides in ctx.
func (p *Prober) dialContext(ctx context.Context, _, address string) (net.Conn, error) {
	tr := traceFrom(ctx)
	if tr == nil { // every request of ours has one; stay safe if not
		tr = newRequestTrace(time.Now())
	}
	return p.dial(ctx, tr, address)
}

// dial resolves the host itself, to apply preferred_ip_protocol and
// ip_protocol_fallback, then dials one address, marking resolve and connect on
// tr.
func (p *Prober) dial(ctx context.Context, tr *requestTrace, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		tr.mark(&tr.dnsStart)
		if ip, err = p.pickAddress(ctx, host); err != nil {
			return nil, err
		}
		tr.mark(&tr.dnsDone)
	}
	ip = ip.Unmap()
	network := "tcp6"
	if ip.Is4() {
		network = "tcp4"
	}
	tr.mark(&tr.connectStart)
	conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
	if err != nil {
		return nil, err
	}
	tr.mark(&tr.connectDone)
	return conn, nil
}

// pickAddress resolves host and picks its first address of the preferred
// family, or of the other one when fallback is on (blackbox_exporter's rule).
func (p *Prober) pickAddress(ctx context.Context, host string) (netip.Addr, error) {
	// Both families even without fallback: the queries run in parallel, and a
	// name with only the other family gets a clear error rather than NXDOMAIN.
	addrs, err := p.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	var other netip.Addr
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() == (p.plan.ipProtocol == "ip4") {
			return a, nil
		}
		if !other.IsValid() {
			other = a
		}
	}
	if other.IsValid() && p.plan.ipProtocolFallback {
		return other, nil
	}
	family := "IPv4"
	if p.plan.ipProtocol == "ip6" {
		family = "IPv6"
	}
	return netip.Addr{}, fmt.Errorf("lookup %s: no %s address (preferred_ip_protocol %s, ip_protocol_fallback false)", host, family, p.plan.ipProtocol)
}

// hostName is the host part of "host" or "host:port".
func hostName(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return strings.Trim(hostport, "[]")
}
