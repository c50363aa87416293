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
func connectDirect(ctx context.Context, ip netip.Addr, port uint16) (net.Conn, *stampedConn, error) {
	network := "tcp4"
	if !ip.Is4() {
		network = "tcp6"
	}
	conn, err := dialer.DialContext(ctx, network, netip.AddrPortFrom(ip, port).String())
	return conn, nil, err
}

func (c *stampedConn) received() (first, last int64) { return 0, 0 }

func holdStamps() {}
