package httpprobe

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/vigil-monitoring/vigil/internal/testenv"
	"github.com/vigil-monitoring/vigil/probes"
)

// TestStampedConnTimesArrival checks that a read reports when the kernel
// received the data, not when the reader got to it: the reader here comes late
// on purpose, once the data waits in the receive queue.
func TestStampedConnTimesArrival(t *testing.T) {
	holdStamps() // as New does
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sent := make(chan time.Time, 1)
	stamping := make(chan struct{})
	more := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		<-stamping // as in a probe: the request goes out after the connect
		sent <- time.Now()
		c.Write([]byte("hello"))
		<-more // the rest goes out once the reader has read the first part
		c.Write([]byte(" world"))
	}()
	conn := connectStamped(t, ln.Addr().String())
	defer conn.Close()
	close(stamping)
	before := <-sent
	testenv.WaitFor(t, 5*time.Second, "hello in the receive queue", func() bool { return queued(t, conn) == len("hello") })
	readFrom := time.Now()
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	first, last := conn.received()
	if first == 0 || first != last {
		t.Fatalf("received() = %d, %d after one read", first, last)
	}
	arrived := time.Unix(0, first)
	if arrived.Before(before.Add(-time.Millisecond)) || arrived.After(before.Add(10*time.Millisecond)) {
		t.Errorf("kernel receive time %v is not right after the write at %v", arrived.Sub(before), before)
	}
	if !arrived.Before(readFrom) {
		t.Errorf("receive time %v is not before the read began (%v): the stamp is the read's time", arrived, readFrom)
	}

	released := time.Now()
	close(more)
	if n, err = io.ReadFull(conn, buf[:6]); err != nil || string(buf[:n]) != " world" {
		t.Fatalf("second read = %q, %v", buf[:n], err)
	}
	first2, last2 := conn.received()
	if first2 != first || last2 < released.UnixNano() {
		t.Errorf("after the second write: first %d (was %d), last %v, want at or after the write was let go at %v", first2, first, time.Unix(0, last2), released)
	}
	if _, err := conn.Read(buf); !errors.Is(err, io.EOF) {
		t.Errorf("Read after the peer closed = %v, want io.EOF", err)
	}
}

// queued returns how many bytes wait unread in conn's receive queue.
func queued(t *testing.T, conn *stampedConn) int {
	t.Helper()
	var n int32
	var errno syscall.Errno
	err := conn.raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	})
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		t.Fatalf("ioctl SIOCINQ: %v", err)
	}
	return int(n)
}

// connectStamped connects to addr as the direct path does.
func connectStamped(t *testing.T, addr string) *stampedConn {
	t.Helper()
	ap := netip.MustParseAddrPort(addr)
	conn, err := connectDirect(context.Background(), ap.Addr(), ap.Port())
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := conn.(*stampedConn)
	if !ok {
		t.Fatalf("connectDirect returned %T without receive timestamps", conn)
	}
	return sc
}

// TestStampedConnErrorsReadAsTCPConn checks that deadlines work and errors
// read as net.TCPConn's do ("read tcp a->b: i/o timeout").
func TestStampedConnErrorsReadAsTCPConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	quiet := make(chan struct{})
	served := make(chan struct{})
	defer func() { close(quiet); <-served }()
	go func() {
		defer close(served)
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			<-quiet // say nothing until the test is done
		}
	}()
	conn := connectStamped(t, ln.Addr().String())
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = conn.Read(make([]byte, 8))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !strings.HasPrefix(err.Error(), "read tcp 127.0.0.1:") || !strings.HasSuffix(err.Error(), "i/o timeout") {
		t.Errorf("Read past the deadline = %v, want a timeout as net.TCPConn reports it", err)
	}
	conn.Close()
	if _, err := conn.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close = %v, want net.ErrClosed", err)
	}
}

// TestRxTimeParsesControlMessages checks the in-place parser against
// messages built as the kernel lays them out, one it must skip first.
func TestRxTimeParsesControlMessages(t *testing.T) {
	ts := syscall.NsecToTimespec(1_700_000_000_123_456_789)
	var data []byte
	data = binary.NativeEndian.AppendUint64(data, uint64(ts.Sec))
	data = binary.NativeEndian.AppendUint64(data, uint64(ts.Nsec))
	other := cmsg(syscall.SOL_SOCKET, syscall.SCM_RIGHTS, []byte{1, 2, 3, 4})
	stamp := cmsg(syscall.SOL_SOCKET, syscall.SCM_TIMESTAMPNS, data)
	for _, tc := range []struct {
		name string
		oob  []byte
		want int64
	}{
		{"stamp", stamp, 1_700_000_000_123_456_789},
		{"after another message", append(slices.Clone(other), stamp...), 1_700_000_000_123_456_789},
		{"none", other, 0},
		{"empty", nil, 0},
		{"truncated", stamp[:len(stamp)-4], 0},
	} {
		if got := rxTime(tc.oob); got != tc.want {
			t.Errorf("%s: rxTime = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// cmsg lays out one control message as the kernel does (CMSG_SPACE).
func cmsg(level, typ int, data []byte) []byte {
	b := make([]byte, syscall.CmsgSpace(len(data)))
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = int32(level), int32(typ)
	h.SetLen(syscall.CmsgLen(len(data)))
	copy(b[syscall.CmsgLen(0):], data)
	return b
}

// TestProcessingWithALateWriteMark checks the processing phase when the
// kernel's first-byte time precedes the clock's mark of the write (the
// goroutine got its core back only after the answer came): it runs from the
// connection's mark, taken before the write, not 0.
func TestProcessingWithALateWriteMark(t *testing.T) {
	tr := newRequestTrace(time.Now())
	tr.gotConn.Store(int64(100 * time.Microsecond))
	tr.wrote.Store(int64(900 * time.Microsecond))
	tr.firstByte.Store(int64(400 * time.Microsecond)) // the kernel's
	var phases [5]probes.Phase
	tr.phases(&phases, int64(450*time.Microsecond))
	if got := phases[3]; got.Name != phaseProcessing || got.Duration != 300*time.Microsecond {
		t.Errorf("processing = %+v, want 300µs from the connection's mark", got)
	}
	tr.wrote.Store(int64(200 * time.Microsecond)) // in order: from the write
	tr.phases(&phases, int64(450*time.Microsecond))
	if got := phases[3].Duration; got != 200*time.Microsecond {
		t.Errorf("processing = %v, want 200µs from the write", got)
	}
}
