package httpprobe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
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
	ip, port, err := p.resolve(ctx, tr, address)
	if err != nil {
		return nil, err
	}
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

// dialDirect is dial for the direct path: on Linux a connection of our own
// (conn_linux.go), which tr.rx then reads the kernel's receive times from.
func (p *Prober) dialDirect(ctx context.Context, tr *requestTrace, address string) (net.Conn, error) {
	ip, port, err := p.resolve(ctx, tr, address)
	if err != nil {
		return nil, err
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil { // a service name; URLs have numbers, but stay safe
		return p.dial(ctx, tr, net.JoinHostPort(ip.String(), port))
	}
	tr.mark(&tr.connectStart)
	conn, err := connectDirect(ctx, ip, uint16(n))
	if err != nil {
		return nil, err
	}
	tr.mark(&tr.connectDone)
	tr.rx, _ = conn.(*stampedConn)
	return conn, nil
}

// resolve splits address and resolves its host, marking the resolve on tr
// when it is a name.
func (p *Prober) resolve(ctx context.Context, tr *requestTrace, address string) (netip.Addr, string, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return netip.Addr{}, "", err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		tr.mark(&tr.dnsStart)
		if ip, err = p.pickAddress(ctx, host); err != nil {
			return netip.Addr{}, "", err
		}
		tr.mark(&tr.dnsDone)
	}
	ip = ip.Unmap()
	if !p.plan.ipProtocolFallback && ip.Is4() != (p.plan.ipProtocol == "ip4") {
		// blackbox_exporter's rule: the preferred family without fallback
		// binds an address literal too.
		return netip.Addr{}, "", fmt.Errorf("address %s is not %s (preferred_ip_protocol %s, ip_protocol_fallback false)",
			ip, p.plan.ipProtocol, p.plan.ipProtocol)
	}
	return ip, port, nil
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
