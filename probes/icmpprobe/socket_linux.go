package icmpprobe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
)

// openSocket opens an ICMP socket of kind for IPv4 or IPv6 (v6), bound to
// source when it is valid, with the plan's TTL and DF bit, asking the kernel
// for each reply's TTL. An unprivileged socket is SOCK_DGRAM with protocol
// ICMP (a "ping socket"); a raw one SOCK_RAW.
func openSocket(kind socketKind, v6 bool, source netip.Addr, pl *plan) (net.PacketConn, error) {
	family, proto, sotype := syscall.AF_INET, syscall.IPPROTO_ICMP, syscall.SOCK_DGRAM
	if v6 {
		family, proto = syscall.AF_INET6, syscall.IPPROTO_ICMPV6
	}
	if kind == socketRaw {
		sotype = syscall.SOCK_RAW
	}
	fd, err := syscall.Socket(family, sotype|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := setOptions(fd, v6, source, pl); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "icmp")
	defer f.Close() // FilePacketConn dups the descriptor
	return net.FilePacketConn(f)
}

// setOptions sets the socket options and binds to source.
func setOptions(fd int, v6 bool, source netip.Addr, pl *plan) error {
	type option struct{ level, name, value int }
	var opts []option
	if v6 {
		opts = append(opts, option{syscall.IPPROTO_IPV6, syscall.IPV6_RECVHOPLIMIT, 1})
		if pl.ttl > 0 {
			opts = append(opts, option{syscall.IPPROTO_IPV6, syscall.IPV6_UNICAST_HOPS, pl.ttl})
		}
	} else {
		opts = append(opts, option{syscall.IPPROTO_IP, syscall.IP_RECVTTL, 1})
		if pl.ttl > 0 {
			opts = append(opts, option{syscall.IPPROTO_IP, syscall.IP_TTL, pl.ttl})
		}
		if pl.dontFragment {
			opts = append(opts, option{syscall.IPPROTO_IP, syscall.IP_MTU_DISCOVER, syscall.IP_PMTUDISC_DO})
		}
	}
	for _, o := range opts {
		if err := syscall.SetsockoptInt(fd, o.level, o.name, o.value); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	if !source.IsValid() {
		return nil
	}
	var sa syscall.Sockaddr = &syscall.SockaddrInet4{Addr: source.As4()}
	if v6 {
		sa = &syscall.SockaddrInet6{Addr: source.As16()}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind to source_ip_address %s: %w", source, os.NewSyscallError("bind", err))
	}
	return nil
}

// writeTo sends msg to ip over conn.
func writeTo(conn net.PacketConn, msg []byte, ip netip.Addr) error {
	var dst net.Addr = &net.IPAddr{IP: ip.AsSlice(), Zone: ip.Zone()}
	if _, ok := conn.(*net.UDPConn); ok {
		dst = &net.UDPAddr{IP: ip.AsSlice(), Zone: ip.Zone()}
	}
	_, err := conn.WriteTo(msg, dst)
	return err
}

// readFrom reads one ICMP message into b and returns it (without an IPv4
// header, which raw IPv4 sockets deliver), its sender and its TTL or hop
// limit (-1 when unknown).
func readFrom(conn net.PacketConn, b, oob []byte) (msg []byte, from netip.Addr, ttl int, err error) {
	var n, oobn int
	switch c := conn.(type) {
	case *net.UDPConn:
		var ap netip.AddrPort
		n, oobn, _, ap, err = c.ReadMsgUDPAddrPort(b, oob)
		from = ap.Addr()
	case *net.IPConn:
		var addr *net.IPAddr
		n, oobn, _, addr, err = c.ReadMsgIP(b, oob)
		if addr != nil {
			from, _ = netip.AddrFromSlice(addr.IP)
		}
	default:
		return nil, from, -1, fmt.Errorf("unexpected socket type %T", conn)
	}
	if err != nil {
		return nil, from, -1, err
	}
	msg, ttl = b[:n], controlTTL(oob[:oobn])
	if _, raw := conn.(*net.IPConn); raw && from.Unmap().Is4() {
		if len(msg) < 20 || msg[0]>>4 != 4 || len(msg) < int(msg[0]&0x0f)*4 {
			return nil, from, -1, errors.New("short IPv4 packet")
		}
		if ttl < 0 {
			ttl = int(msg[8])
		}
		msg = msg[int(msg[0]&0x0f)*4:]
	}
	return msg, from.Unmap(), ttl, nil
}

// controlTTL finds IP_TTL or IPV6_HOPLIMIT in a control message; -1 if absent.
func controlTTL(oob []byte) int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return -1
	}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		if (m.Header.Level == syscall.IPPROTO_IP && m.Header.Type == syscall.IP_TTL) ||
			(m.Header.Level == syscall.IPPROTO_IPV6 && m.Header.Type == syscall.IPV6_HOPLIMIT) {
			return int(int32(binary.NativeEndian.Uint32(m.Data)))
		}
	}
	return -1
}
