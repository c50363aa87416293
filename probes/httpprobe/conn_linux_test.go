package httpprobe

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/probes"
)

// fullListener listens on 127.0.0.1 with the smallest accept queue and fills
// it, so that the kernel drops the next SYN and a connect stays in progress
// until the queue has room and the SYN is sent again (after about a second).
// accept takes the queued connection.
func fullListener(t *testing.T) (addr netip.AddrPort, accept func()) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr = netip.AddrPortFrom(netip.AddrFrom4(sa.(*syscall.SockaddrInet4).Addr), uint16(sa.(*syscall.SockaddrInet4).Port))
	// Backlog 0 queues one connection; fill it.
	queued, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { queued.Close() })
	return addr, func() {
		if nfd, _, err := syscall.Accept(fd); err == nil {
			syscall.Close(nfd)
		}
	}
}

// TestConnectDirectWaitsForTheHandshake checks the connect that is not over
// when connect(2) returns: it waits on the poller until the handshake ends,
// then carries data, and the run's deadline bounds the wait.
func TestConnectDirectWaitsForTheHandshake(t *testing.T) {
	addr, accept := fullListener(t)

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	conn, err := connectDirect(ctx, addr.Addr(), addr.Port())
	if err == nil {
		conn.Close()
		t.Fatal("connect to a listener with a full queue succeeded before its deadline")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || err.Error() != "dial tcp4 "+addr.String()+": i/o timeout" {
		t.Errorf("connect past the deadline = %v, want net.Dialer's timeout", err)
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("gave up after %v, before the deadline", took)
	}

	// A scheduled run's context: the socket's deadline alone ends the wait.
	ctx, cancel = probes.NewRunContext(time.Now().Add(150 * time.Millisecond))
	defer cancel()
	start = time.Now()
	if conn, err := connectDirect(ctx, addr.Addr(), addr.Port()); err == nil || err.Error() != "dial tcp4 "+addr.String()+": i/o timeout" {
		if conn != nil {
			conn.Close()
		}
		t.Errorf("connect past a scheduled run's deadline = %v, want net.Dialer's timeout", err)
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("scheduled run gave up after %v, before the deadline", took)
	}

	// Canceled while waiting.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if conn, err := connectDirect(ctx, addr.Addr(), addr.Port()); err == nil || !errors.Is(err, context.Canceled) {
		if conn != nil {
			conn.Close()
		}
		t.Errorf("connect canceled while waiting = %v, want context.Canceled", err)
	}

	// Room in the queue 20 ms in: the SYN sent again gets through.
	time.AfterFunc(20*time.Millisecond, accept)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err = connectDirect(ctx, addr.Addr(), addr.Port())
	if err != nil {
		t.Fatalf("connect once the queue had room: %v", err)
	}
	defer conn.Close()
	if _, ok := conn.(*stampedConn); !ok {
		t.Fatal("no receive timestamps")
	}
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
		t.Errorf("write on the connection: %v", err)
	}
	if got := conn.RemoteAddr().String(); got != addr.String() {
		t.Errorf("RemoteAddr = %s, want %s", got, addr)
	}
	if la, ok := conn.LocalAddr().(*net.TCPAddr); !ok || la.IP.String() != "127.0.0.1" || la.Port == 0 {
		t.Errorf("LocalAddr = %v", conn.LocalAddr())
	}
}

// TestConnectDirectErrorsReadAsDialer checks refusals, and writes on a
// connection the peer reset or that was closed, against net's wording.
func TestConnectDirectErrorsReadAsDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(ln.Addr().String())
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	conn, err := connectDirect(context.Background(), addr.Addr(), addr.Port())
	if err != nil {
		t.Fatal(err)
	}
	// The peer resets the connection: with a zero linger time, close sends
	// RST whether or not the bytes written below have reached it.
	peer := <-accepted
	if _, err := conn.Write([]byte("unread")); err != nil {
		t.Fatal(err)
	}
	if err := peer.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	peer.Close()
	ln.Close()
	var werr error
	// The RST arrives at once on loopback: a few writes at most.
	testenv.Poll(2*time.Second, func() bool {
		_, werr = conn.Write([]byte("more"))
		return werr != nil
	})
	if werr == nil || !strings.HasPrefix(werr.Error(), "write tcp 127.0.0.1:") || !(errors.Is(werr, syscall.ECONNRESET) || errors.Is(werr, syscall.EPIPE)) {
		t.Errorf("write after the peer reset = %v, want a write tcp error with ECONNRESET or EPIPE", werr)
	}
	conn.Close()
	if _, err := conn.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %v, want net.ErrClosed", err)
	}
	if err := conn.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v, want net.ErrClosed", err)
	}

	// The listener is gone: refused, in the dialer's words.
	_, err = connectDirect(context.Background(), addr.Addr(), addr.Port())
	if err == nil || err.Error() != "dial tcp4 "+addr.String()+": connect: connection refused" || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connect to a closed port = %v", err)
	}
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != "connect" {
		t.Errorf("connect error %v does not hold the connect syscall's error", err)
	}
}
