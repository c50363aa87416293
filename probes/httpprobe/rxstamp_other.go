//go:build !linux

package httpprobe

import (
	"context"
	"net"
	"net/netip"
)

// stampedConn has no receive timestamps on this system.
type stampedConn struct{ net.Conn }

// connectDirect dials ip:port with the shared dialer: runs are timed by the
// clock alone.
func connectDirect(ctx context.Context, ip netip.Addr, port uint16) (net.Conn, error) {
	network := "tcp4"
	if !ip.Is4() {
		network = "tcp6"
	}
	return dialer.DialContext(ctx, network, netip.AddrPortFrom(ip, port).String())
}

func (c *stampedConn) received() (first, last int64) { return 0, 0 }

func holdStamps() {}
