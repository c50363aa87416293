package main

import (
	"bytes"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/vigil-monitoring/vigil/bench/internal/target"
)

// rawResponse is what net/http answers "/" with (status, content type and
// length, the body), and Connection: close.
var rawResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
	strconv.Itoa(len(target.HealthBody)) + "\r\nConnection: close\r\n\r\n" + target.HealthBody)

// rawRequestMax is the longest request head read; a probe's is a few hundred
// bytes.
const rawRequestMax = 8192

// rawServers are the raw listeners.
type rawServers struct {
	addrs     []string
	listeners []net.Listener
	wg        sync.WaitGroup
}

// serveRaw listens on portsPerHost kernel-chosen ports of each host and
// answers every connection with rawResponse once it has read a request head.
func serveRaw(hosts []string, portsPerHost int) (*rawServers, error) {
	s := &rawServers{}
	for _, host := range hosts {
		for range portsPerHost {
			l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
			if err != nil {
				s.close()
				return nil, fmt.Errorf("raw http target: listen on %s: %w", host, err)
			}
			s.addrs = append(s.addrs, l.Addr().String())
			s.listeners = append(s.listeners, l)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.accept(l)
			}()
		}
	}
	return s, nil
}

// accept serves l until it is closed.
func (s *rawServers) accept(l net.Listener) {
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return // closed
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			answerRaw(c)
		}()
	}
}

var headEnd = []byte("\r\n\r\n")

// answerRaw reads one request head, writes rawResponse and closes. A
// connection that closes or stalls first (a TCP connect probe) gets nothing.
func answerRaw(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, rawRequestMax)
	n := 0
	for !bytes.Contains(buf[:n], headEnd) {
		if n == len(buf) {
			return
		}
		k, err := c.Read(buf[n:])
		n += k
		if err != nil && !bytes.Contains(buf[:n], headEnd) {
			return
		}
	}
	_, _ = c.Write(rawResponse)
}

// close stops every listener and waits for the connections in flight.
func (s *rawServers) close() {
	for _, l := range s.listeners {
		_ = l.Close()
	}
	s.wg.Wait()
}
