package tcpprobe

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// lineServer is a small SMTP-like server on loopback: a "220 vigil ready"
// banner, then one reply per line:
//
//	HELLO name   250 hello name
//	STARTTLS     220 go ahead, then a TLS handshake (when it has a certificate)
//	INJECT       220 go ahead and "250 injected" in the same write (STARTTLS injection)
//	FLOOD        200 KiB without a newline
//	QUIT         221 bye, and closes
//	anything     500 unknown
//
// With implicitTLS every connection starts with the handshake.
type lineServer struct {
	cert        *tls.Certificate
	implicitTLS bool
}

func (s *lineServer) start(t *testing.T, network string) string {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return ln.Addr().String()
}

func (s *lineServer) serve(conn net.Conn) {
	defer func() { conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if s.implicitTLS {
		conn = tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{*s.cert}})
	}
	fmt.Fprint(conn, "220 vigil ready\r\n")
	in := bufio.NewScanner(conn)
	for in.Scan() {
		cmd, arg, _ := strings.Cut(in.Text(), " ")
		switch cmd {
		case "HELLO":
			fmt.Fprintf(conn, "250 hello %s\r\n", arg)
		case "STARTTLS":
			fmt.Fprint(conn, "220 go ahead\r\n")
			if s.cert == nil {
				return
			}
			conn = tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{*s.cert}})
			in = bufio.NewScanner(conn)
		case "INJECT":
			fmt.Fprint(conn, "220 go ahead\r\n250 injected\r\n")
		case "FLOOD":
			_, _ = conn.Write([]byte(strings.Repeat("x", 200<<10)))
		case "QUIT":
			fmt.Fprint(conn, "221 bye\r\n")
			return
		default:
			fmt.Fprint(conn, "500 unknown\r\n")
		}
	}
}
