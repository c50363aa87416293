//go:build !linux

package dnsprobe

import (
	"net"
	"net/netip"
)

// dialUDP connects a UDP socket to addr with net.Dialer.
func dialUDP(addr netip.AddrPort, source netip.Addr) (net.Conn, error) {
	d := net.Dialer{}
	if source.IsValid() {
		d.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(source, 0))
	}
	return d.Dial("udp", addr.String())
}
