package httpprobe

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// stampedConn is a TCP connection whose reads note when the kernel received
// the data they return (SO_TIMESTAMPNS), so that a run ends when the response
// arrived rather than when the agent's goroutine got a core to read it. Under
// load, with a garbage collection or a scrape holding one of two cores, the
// gap between the two is what made the measured latency drift from the real
// one (bench/README.md, fidelity).
type stampedConn struct {
	*net.TCPConn
	raw syscall.RawConn
	// first and last are the kernel's receive times (Unix ns) of the first
	// and the latest data read; 0 until then.
	first, last int64

	// One read's arguments and results, and recv bound once: a closure
	// passed to raw.Read would cost allocations on every read.
	buf     []byte
	n, oobn int
	rerr    error
	recvFn  func(fd uintptr) bool
	oob     [64]byte
}

// holdStamps keeps one socket with receive timestamps open for the life of
// the process. The kernel stamps received packets only while some socket asks
// for it, and turns that on and off by patching its own code, deferred to a
// work queue: without a socket that stays, each probe's connection would turn
// it on and, closing, off again, and its first packets could go unstamped.
// It waits (50 ms at most, once) until a datagram to itself comes stamped, so
// that the first probes are stamped too; New calls it, outside any run.
var holdStamps = sync.OnceFunc(func() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	self := &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1) != nil || syscall.Bind(fd, self) != nil {
		syscall.Close(fd)
		return
	}
	// The socket stays open; only the check below needs its address.
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return
	}
	var buf [1]byte
	var oob [64]byte
	for range 50 {
		if syscall.Sendto(fd, buf[:], 0, sa) != nil {
			return
		}
		_, oobn, _, _, err := syscall.Recvmsg(fd, buf[:], oob[:], 0)
		if err != nil || rxTime(oob[:oobn]) != 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
})

// stampConn turns on receive timestamps for c; where it cannot, it returns
// nil and runs are timed by the clock alone.
func stampConn(c net.Conn) *stampedConn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return nil
	}
	sc := &stampedConn{TCPConn: tc, raw: raw}
	sc.recvFn = sc.recv
	return sc
}

// recv is one recvmsg; false asks the poller to wait for data.
func (c *stampedConn) recv(fd uintptr) bool {
	c.n, c.oobn, _, _, c.rerr = syscall.Recvmsg(int(fd), c.buf, c.oob[:], 0)
	return c.rerr != syscall.EAGAIN
}

// Read reads as net.TCPConn does (deadlines included), noting the receive
// time of what it read.
func (c *stampedConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.buf = p
	err := c.raw.Read(c.recvFn)
	c.buf = nil
	n, oobn, rerr := c.n, c.oobn, c.rerr
	switch {
	case err != nil:
		// The poller's own error (a deadline, a closed connection), said
		// as a plain read would say it.
		var op *net.OpError
		if errors.As(err, &op) {
			err = op.Err
		}
		return 0, c.opError(err)
	case rerr != nil:
		return 0, c.opError(os.NewSyscallError("recvmsg", rerr))
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

func (c *stampedConn) opError(err error) error {
	return &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// received returns the receive times of the first and the latest data read,
// 0 for none.
func (c *stampedConn) received() (first, last int64) { return c.first, c.last }

// rxTime finds the SCM_TIMESTAMPNS message in oob and returns its time in
// Unix nanoseconds, 0 if there is none. It reads the headers in place, as
// syscall.ParseSocketControlMessage would, without its allocations.
func rxTime(oob []byte) int64 {
	const word = strconv.IntSize / 8 // CMSG_ALIGN's unit: a long
	align := func(n int) int { return (n + word - 1) &^ (word - 1) }
	hdr := align(syscall.SizeofCmsghdr)
	for len(oob) >= hdr {
		var length, level, typ int
		if word == 8 {
			length = int(binary.NativeEndian.Uint64(oob))
			level, typ = int(int32(binary.NativeEndian.Uint32(oob[8:]))), int(int32(binary.NativeEndian.Uint32(oob[12:])))
		} else {
			length = int(binary.NativeEndian.Uint32(oob))
			level, typ = int(int32(binary.NativeEndian.Uint32(oob[4:]))), int(int32(binary.NativeEndian.Uint32(oob[8:])))
		}
		if length < hdr || length > len(oob) {
			return 0
		}
		if data := oob[hdr:length]; level == syscall.SOL_SOCKET && typ == syscall.SCM_TIMESTAMPNS {
			// struct timespec: two longs.
			switch len(data) {
			case 16:
				return int64(binary.NativeEndian.Uint64(data))*1e9 + int64(binary.NativeEndian.Uint64(data[8:]))
			case 8:
				return int64(int32(binary.NativeEndian.Uint32(data)))*1e9 + int64(int32(binary.NativeEndian.Uint32(data[4:])))
			}
			return 0
		}
		oob = oob[min(align(length), len(oob)):]
	}
	return 0
}
