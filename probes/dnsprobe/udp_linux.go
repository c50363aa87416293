package dnsprobe

import (
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// udpConn is a connected UDP socket of our own. net.Dialer spends three
// system calls of a query's eleven on what a probe never uses
// (SO_BROADCAST, getsockname, getpeername) and allocates both addresses; here
// the socket is an *os.File, which the runtime's poller serves as it serves a
// net.Conn (deadlines, waits without a thread). Errors carry the system
// call's errno, as net.UDPConn's do once netCause unwraps them.
type udpConn struct {
	f     *os.File
	raw   syscall.RawConn
	raddr netip.AddrPort

	// One raw call's arguments and results, and the calls bound once.
	buf    []byte
	n      int
	err    error
	readFn func(fd uintptr) bool
	sendFn func(fd uintptr) bool
}

// dialUDP connects a UDP socket to addr, bound to source when it is valid.
func dialUDP(addr netip.AddrPort, source netip.Addr) (net.Conn, error) {
	ip := addr.Addr()
	family := syscall.AF_INET
	if !ip.Is4() {
		family = syscall.AF_INET6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_UDP)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if source.IsValid() {
		if err := syscall.Bind(fd, sockaddr(netip.AddrPortFrom(source, 0))); err != nil {
			_ = syscall.Close(fd)
			return nil, os.NewSyscallError("bind", err)
		}
	}
	// A UDP connect only records the peer: it never waits.
	if err := syscall.Connect(fd, sockaddr(addr)); err != nil {
		_ = syscall.Close(fd)
		return nil, os.NewSyscallError("connect", err)
	}
	f := os.NewFile(uintptr(fd), "udp") // non-blocking: pollable
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	c := &udpConn{f: f, raw: raw, raddr: addr}
	c.readFn, c.sendFn = c.read, c.send
	return c, nil
}

func sockaddr(ap netip.AddrPort) syscall.Sockaddr {
	if ap.Addr().Is4() {
		return &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

func (c *udpConn) read(fd uintptr) bool {
	c.n, c.err = syscall.Read(int(fd), c.buf)
	return c.err != syscall.EAGAIN && c.err != syscall.EINTR
}

func (c *udpConn) send(fd uintptr) bool {
	c.n, c.err = syscall.Write(int(fd), c.buf)
	return c.err != syscall.EAGAIN && c.err != syscall.EINTR
}

// Read reads one datagram (a zero-length one is n == 0, no error).
func (c *udpConn) Read(p []byte) (int, error) {
	c.buf, c.n, c.err = p, 0, nil
	return c.result("read", c.raw.Read(c.readFn))
}

// Write sends p as one datagram.
func (c *udpConn) Write(p []byte) (int, error) {
	c.buf, c.n, c.err = p, 0, nil
	return c.result("write", c.raw.Write(c.sendFn))
}

// result is what Read or Write returns: pollErr is the poller's own error (a
// deadline, os.ErrDeadlineExceeded, "i/o timeout"; use after Close), else
// the system call's.
func (c *udpConn) result(op string, pollErr error) (int, error) {
	c.buf = nil
	err := pollErr
	if err == nil && c.err != nil {
		err = os.NewSyscallError(op, c.err)
	}
	if err != nil {
		return 0, &net.OpError{Op: op, Net: "udp", Addr: net.UDPAddrFromAddrPort(c.raddr), Err: err}
	}
	return max(c.n, 0), nil
}

func (c *udpConn) Close() error { return c.f.Close() }

func (c *udpConn) LocalAddr() net.Addr {
	var la net.Addr
	_ = c.raw.Control(func(fd uintptr) {
		switch sa, _ := syscall.Getsockname(int(fd)); sa := sa.(type) {
		case *syscall.SockaddrInet4:
			la = net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)))
		case *syscall.SockaddrInet6:
			la = net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)))
		}
	})
	return la
}

func (c *udpConn) RemoteAddr() net.Addr               { return net.UDPAddrFromAddrPort(c.raddr) }
func (c *udpConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *udpConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *udpConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }
