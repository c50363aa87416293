//go:build !linux

package httpprobe

import "net"

// stampedConn has no receive timestamps on this system.
type stampedConn struct{ net.Conn }

// stampConn returns nil: runs are timed by the clock alone.
func stampConn(net.Conn) *stampedConn { return nil }

func (c *stampedConn) received() (first, last int64) { return 0, 0 }

func holdStamps() {}
