package httpprobe

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/vigil-monitoring/vigil/probes"
)

// stampedConn is the direct path's TCP connection on Linux: a socket of our
// own, so that two waits on the agent's goroutine are not counted as the
// target's time.
//
//   - Connect: on loopback and on a near target the handshake is over by the
//     time connect(2) returns, and the socket is checked at once. net.Dialer
//     parks the goroutine until the poller next runs, which under load is
//     milliseconds later (a fidelity run's connect phase reached 5.7 ms of
//     a 0.1 ms handshake; bench/README.md).
//   - Reads note when the kernel received the data they return
//     (SO_TIMESTAMPNS), so that a run ends when the response arrived rather
//     than when the goroutine got a core to read it.
//
// The socket is an *os.File, which the runtime's poller serves as it serves
// net.Conn: deadlines, and waits without a thread. Errors read as
// net.TCPConn's do.
type stampedConn struct {
	f      *os.File
	raw    syscall.RawConn
	peer   netip.AddrPort
	laddr  *net.TCPAddr // looked up on first use
	closed bool

	// first and last are the kernel's receive times (Unix ns) of the first
	// and the latest data read; 0 until then.
	first, last int64

	// One raw call's arguments and results, and the call bound once: a
	// closure passed to raw.Read or raw.Write would cost an allocation on
	// every call, and one per operation one on every connection.
	op       rawOp
	buf      []byte
	n, oobn  int
	rerr     error
	rawFn    func(fd uintptr) bool // c.rawCall
	oob      [64]byte
	connectE error // the connect's own error, from connected
}

// rawOp is what rawCall does.
type rawOp uint8

const (
	opConnected rawOp = iota // connected
	opRecv                   // recv
	opSend                   // send
)

// rawCall is the raw call of c.op, in the shape raw.Read and raw.Write take.
func (c *stampedConn) rawCall(fd uintptr) bool {
	switch c.op {
	case opRecv:
		return c.recv(fd)
	case opSend:
		return c.send(fd)
	}
	return c.connected(fd)
}

// connectDirect opens a TCP connection to ip:port, a *stampedConn with
// receive timestamps on (but for a scoped IPv6 address, which goes through
// the dialer). Errors read as net.Dialer's ("dial tcp4 a: connect:
// connection refused"); ctx's deadline and cancellation bound the wait.
func connectDirect(ctx context.Context, ip netip.Addr, port uint16) (net.Conn, error) {
	if ip.Zone() != "" { // the dialer maps the zone
		return dialer.DialContext(ctx, "tcp6", netip.AddrPortFrom(ip, port).String())
	}
	peer := netip.AddrPortFrom(ip, port)
	network, family := "tcp4", syscall.AF_INET
	var sa syscall.Sockaddr
	if ip.Is4() {
		sa = &syscall.SockaddrInet4{Port: int(port), Addr: ip.As4()}
	} else {
		network, family = "tcp6", syscall.AF_INET6
		sa = &syscall.SockaddrInet6{Port: int(port), Addr: ip.As16()}
	}
	dialError := func(err error) error {
		return &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(peer), Err: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, dialError(err)
	}

	fd, err := startConnect(family, sa)
	if err != nil {
		return nil, dialError(err)
	}

	// A non-blocking descriptor makes a pollable File.
	f := os.NewFile(uintptr(fd), "tcp")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, dialError(err)
	}
	c := &stampedConn{f: f, raw: raw, peer: peer}
	c.rawFn = c.rawCall
	if c.connected(uintptr(fd)) {
		if c.connectE != nil {
			c.Close()
			return nil, dialError(c.connectE)
		}
		return c, nil
	}

	// Still in progress: wait for the poller to say writable.
	if deadline, ok := ctx.Deadline(); ok {
		_ = f.SetWriteDeadline(deadline)
	}
	stop := noWatch
	if !probes.CanceledOnlyByDeadline(ctx) {
		stop = context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(time.Unix(1, 0)) })
	}
	c.op = opConnected
	werr := raw.Write(c.rawFn)
	stop()
	if werr == nil {
		werr = c.connectE
	} else if ctx.Err() != nil && !deadlinePassed(ctx) {
		werr = ctx.Err() // canceled, as net.Dialer says it
	}
	if werr != nil {
		c.Close()
		return nil, dialError(werr)
	}
	_ = f.SetWriteDeadline(time.Time{})
	return c, nil
}

// startConnect opens a non-blocking TCP socket of family with receive
// timestamps on and starts its connect to sa; the connect may still be in
// progress when it returns.
func startConnect(family int, sa syscall.Sockaddr) (int, error) {
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
	if err != nil {
		return 0, os.NewSyscallError("socket", err)
	}
	// As net.Dialer's: no Nagle delay. Either failing only costs the
	// stamps or a delayed small write, never the run.
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	for {
		err = syscall.Connect(fd, sa)
		if err != syscall.EINTR {
			break
		}
	}
	switch err {
	case nil, syscall.EINPROGRESS, syscall.EALREADY, syscall.EISCONN:
		return fd, nil
	}
	_ = syscall.Close(fd)
	return 0, os.NewSyscallError("connect", err)
}

// connected reports whether the connect is over, with connectE its error;
// false asks the poller to wait. net.Dialer's test: SO_ERROR, then a peer
// address, since the poller can wake spuriously.
func (c *stampedConn) connected(fd uintptr) bool {
	nerr, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err != nil {
		c.connectE = os.NewSyscallError("getsockopt", err)
		return true
	}
	switch errno := syscall.Errno(nerr); errno {
	case syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
		return false
	case syscall.EISCONN:
		return true
	case 0:
		_, err := syscall.Getpeername(int(fd))
		return err == nil
	default:
		c.connectE = os.NewSyscallError("connect", errno)
		return true
	}
}

// recv is one recvmsg; false asks the poller to wait for data.
func (c *stampedConn) recv(fd uintptr) bool {
	c.n, c.oobn, _, _, c.rerr = syscall.Recvmsg(int(fd), c.buf, c.oob[:], 0)
	return c.rerr != syscall.EAGAIN
}

// send writes what is left of buf; false asks the poller to wait for room.
func (c *stampedConn) send(fd uintptr) bool {
	for len(c.buf) > 0 {
		n, err := syscall.Write(int(fd), c.buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			c.rerr = err
			return true
		}
		c.n += n
		c.buf = c.buf[n:]
	}
	return true
}

// Read reads as net.TCPConn does (deadlines included), noting the receive
// time of what it read.
func (c *stampedConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.op, c.buf = opRecv, p
	err := c.raw.Read(c.rawFn)
	c.buf = nil
	n, oobn, rerr := c.n, c.oobn, c.rerr
	switch {
	case err != nil:
		return 0, c.opError("read", c.pollError(err))
	case rerr != nil:
		return 0, c.opError("read", os.NewSyscallError("recvmsg", rerr))
	case n == 0:
		return 0, io.EOF
	}
	if at := rxTime(c.oob[:oobn]); at != 0 {
		if c.first == 0 {
			c.first = at
		}
		c.last = at
	}
	return n, nil
}

// Write writes all of p, as net.TCPConn does.
func (c *stampedConn) Write(p []byte) (int, error) {
	c.op, c.buf, c.n, c.rerr = opSend, p, 0, nil
	err := c.raw.Write(c.rawFn)
	c.buf = nil
	switch {
	case err != nil:
		return c.n, c.opError("write", c.pollError(err))
	case c.rerr != nil:
		return c.n, c.opError("write", os.NewSyscallError("write", c.rerr))
	}
	return c.n, nil
}

// pollError says the poller's error as net.Conn's would: a deadline as
// os.ErrDeadlineExceeded, use after Close as net.ErrClosed.
func (c *stampedConn) pollError(err error) error {
	if c.closed && !errors.Is(err, os.ErrDeadlineExceeded) {
		return net.ErrClosed
	}
	return err
}

func (c *stampedConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

func (c *stampedConn) Close() error {
	if c.closed {
		return c.opError("close", net.ErrClosed)
	}
	c.closed = true
	return c.f.Close()
}

// LocalAddr looks the address up once; nil if the socket cannot say.
func (c *stampedConn) LocalAddr() net.Addr {
	if c.laddr == nil && !c.closed {
		_ = c.raw.Control(func(fd uintptr) {
			switch sa, _ := syscall.Getsockname(int(fd)); sa := sa.(type) {
			case *syscall.SockaddrInet4:
				c.laddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)))
			case *syscall.SockaddrInet6:
				c.laddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)))
			}
		})
	}
	if c.laddr == nil {
		return nil
	}
	return c.laddr
}

// RemoteAddr is built when asked: a run rarely needs it (an error does).
func (c *stampedConn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.peer) }

func (c *stampedConn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *stampedConn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *stampedConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// received returns the receive times of the first and the latest data read,
// 0 for none.
func (c *stampedConn) received() (first, last int64) { return c.first, c.last }
