package dnsprobe

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// TestDialUDP checks the socket of our own against what net.UDPConn does:
// datagrams both ways (an empty one reads as 0 bytes, no error), addresses,
// deadlines, and errors after Close.
func TestDialUDP(t *testing.T) {
	server, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	addr := server.LocalAddr().(*net.UDPAddr).AddrPort()
	conn, err := dialUDP(addr, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := conn.RemoteAddr().String(); got != addr.String() {
		t.Errorf("RemoteAddr = %s, want %s", got, addr)
	}
	local, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok || local.IP.String() != "127.0.0.1" || local.Port == 0 {
		t.Fatalf("LocalAddr = %v", conn.LocalAddr())
	}

	if n, err := conn.Write([]byte("query")); n != 5 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	buf := make([]byte, 16)
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := server.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "query" || from.Port() != uint16(local.Port) {
		t.Fatalf("server read %q from %v, %v", buf[:n], from, err)
	}
	for _, answer := range []string{"answer", ""} {
		if _, err := server.WriteToUDPAddrPort([]byte(answer), from); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := conn.Read(buf); n != len(answer) || err != nil || string(buf[:n]) != answer {
			t.Errorf("Read = %q, %v; want %q", buf[:n], err, answer)
		}
	}

	conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := conn.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) || netCause(err).Error() != "i/o timeout" {
		t.Errorf("Read past the deadline = %v, want an i/o timeout", err)
	}
	conn.Close()
	if _, err := conn.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
}
