//go:build !linux

package icmpprobe

import (
	"errors"
	"net"
	"net/netip"
)

var errUnsupported = errors.New("the icmp probe runs on Linux only")

func openSocket(socketKind, bool, netip.Addr, *plan) (net.PacketConn, error) {
	return nil, errUnsupported
}

func writeTo(net.PacketConn, []byte, netip.Addr) error { return errUnsupported }

func readFrom(net.PacketConn, []byte, []byte) ([]byte, netip.Addr, int, error) {
	return nil, netip.Addr{}, -1, errUnsupported
}
