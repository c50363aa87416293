package probeconfig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// IPConfig holds the keys of a kind that connects to a host, with
// blackbox_exporter's names: which address family a host name resolves to and
// the local address to connect from. Kinds embed it in their block.
type IPConfig struct {
	// PreferredIPProtocol is ip4 (default) or ip6.
	PreferredIPProtocol string `yaml:"preferred_ip_protocol,omitempty" json:"preferred_ip_protocol,omitempty"`
	// IPProtocolFallback allows the other family when the name has no address
	// of the preferred one; default true.
	IPProtocolFallback *bool `yaml:"ip_protocol_fallback,omitempty" json:"ip_protocol_fallback,omitempty"`
	// SourceIPAddress is the local address to connect from; optional.
	SourceIPAddress string `yaml:"source_ip_address,omitempty" json:"source_ip_address,omitempty"`
}

// Endpoint is a checked target: a host (an IP literal or a name resolved on
// every run, so a moved server is followed), a port, and the IPConfig choices.
type Endpoint struct {
	// Host is the target's host, without brackets.
	Host string
	// Port is the target's port; 0 for a host-only target (icmp).
	Port uint16

	literal   netip.Addr // valid when Host is an IP literal
	preferIP6 bool
	fallback  bool
	source    netip.Addr // invalid when unset
}

// HostPort returns the endpoint of target "host:port" (key names it in
// errors); with defaultPort 0 the port is required. Errors are FieldErrors.
func (c *IPConfig) HostPort(key, target string, defaultPort uint16) (*Endpoint, error) {
	if target == "" {
		return nil, Errorf(key, "required")
	}
	host, portText, err := net.SplitHostPort(target)
	switch {
	case err == nil:
		port, perr := strconv.ParseUint(portText, 10, 16)
		if perr != nil || port == 0 {
			return nil, Errorf(key, "bad port %q in %q: want 1 to 65535", portText, target)
		}
		return c.endpoint(key, host, uint16(port))
	case defaultPort == 0:
		return nil, Errorf(key, "bad address %q: want host:port", target)
	}
	return c.endpoint(key, strings.Trim(target, "[]"), defaultPort)
}

// HostOnly returns the endpoint of a target that is a host without a port.
func (c *IPConfig) HostOnly(key, host string) (*Endpoint, error) {
	if host == "" {
		return nil, Errorf(key, "required")
	}
	return c.endpoint(key, strings.Trim(host, "[]"), 0)
}

// endpoint checks host and the IP keys.
func (c *IPConfig) endpoint(key, host string, port uint16) (*Endpoint, error) {
	e := &Endpoint{Host: host, Port: port, fallback: c.IPProtocolFallback == nil || *c.IPProtocolFallback}
	var errs []error
	if ip, err := netip.ParseAddr(host); err == nil {
		e.literal = ip.Unmap()
	} else if host == "" || strings.ContainsAny(host, " /\\:@") || len(host) > 253 {
		errs = append(errs, Errorf(key, "bad host %q: want an IP address or a host name", host))
	}
	switch strings.ToLower(c.PreferredIPProtocol) {
	case "", "ip4":
	case "ip6":
		e.preferIP6 = true
	default:
		errs = append(errs, Errorf("preferred_ip_protocol", "unknown IP protocol %q: want ip4 or ip6", c.PreferredIPProtocol))
	}
	if c.SourceIPAddress != "" {
		src, err := netip.ParseAddr(c.SourceIPAddress)
		switch {
		case err != nil:
			errs = append(errs, Errorf("source_ip_address", "%q is not an IP address", c.SourceIPAddress))
		case e.literal.IsValid() && src.Unmap().Is4() != e.literal.Is4():
			errs = append(errs, Errorf("source_ip_address", "%s and target %s are of different IP families", src, e.literal))
		default:
			e.source = src.Unmap()
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return e, nil
}

// String is the target as configured: "host:port", or the host alone.
func (e *Endpoint) String() string {
	if e.Port == 0 {
		return e.Host
	}
	return net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
}

// Literal reports whether Host is an IP address (no resolve step).
func (e *Endpoint) Literal() bool { return e.literal.IsValid() }

// Source is the configured source address; invalid when unset.
func (e *Endpoint) Source() netip.Addr { return e.source }

// Resolve returns the address to connect to and how errors show the target:
// "ip:port", or "ip:port (name)" for a host name. A name is resolved now,
// honouring preferred_ip_protocol and ip_protocol_fallback.
func (e *Endpoint) Resolve(ctx context.Context) (netip.Addr, string, error) {
	if e.literal.IsValid() {
		if !e.fallback && e.literal.Is6() != e.preferIP6 {
			// blackbox_exporter's rule: the preferred family without
			// fallback binds an address literal too.
			return netip.Addr{}, e.show(e.literal), fmt.Errorf("address %s is not %s (preferred_ip_protocol %s, ip_protocol_fallback false)",
				e.literal, family(e.preferIP6), family(e.preferIP6))
		}
		return e.literal, e.show(e.literal), nil
	}
	network := "ip4"
	if e.preferIP6 {
		network = "ip6"
	}
	if e.fallback {
		network = "ip"
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, network, e.Host)
	if err != nil {
		return netip.Addr{}, e.String(), fmt.Errorf("resolve %s: %w", e.Host, err)
	}
	var chosen, other netip.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		if ip.Is6() == e.preferIP6 {
			chosen = ip
			break
		}
		if !other.IsValid() {
			other = ip
		}
	}
	if !chosen.IsValid() && e.fallback {
		chosen = other
	}
	if !chosen.IsValid() {
		want := "ip4"
		if e.preferIP6 {
			want = "ip6"
		}
		return netip.Addr{}, e.String(), fmt.Errorf("resolve %s: no %s address", e.Host, want)
	}
	return chosen, e.show(chosen) + " (" + e.Host + ")", nil
}

// family is the preferred_ip_protocol value for ip6 or not.
func family(ip6 bool) string {
	if ip6 {
		return "ip6"
	}
	return "ip4"
}

func (e *Endpoint) show(ip netip.Addr) string {
	if e.Port == 0 {
		return ip.String()
	}
	return netip.AddrPortFrom(ip, e.Port).String()
}

// DialTCP connects to ip at the endpoint's port from the source address, if
// one is set; ctx alone bounds the dial.
func (e *Endpoint) DialTCP(ctx context.Context, ip netip.Addr) (net.Conn, error) {
	d := &net.Dialer{}
	if e.source.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(e.source, 0))
	}
	return d.DialContext(ctx, "tcp", netip.AddrPortFrom(ip, e.Port).String())
}
