//go:build unix

package dnsprobe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The benchmarks query a miekg/dns server in a child process (this test binary
// re-run), so that ns/op is the round trip while B/op, allocs/op and cpu-ns/op
// (user+system CPU of this process, from getrusage) are the probe's alone: the
// figures issue 7 compares with blackbox_exporter.

func BenchmarkProbeUDP(b *testing.B) { benchmarkProbe(b, transportUDP) }

func BenchmarkProbeTCP(b *testing.B) { benchmarkProbe(b, transportTCP) }

func benchmarkProbe(b *testing.B, transport string) {
	addr := startChildServer(b)
	p := newProber(b, &Config{Server: addr, QueryName: "talk.example.com", TransportProtocol: transport})
	// One deadline for the whole benchmark: the scheduler's per-run context is
	// its cost, not the probe's.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	measureCPU(b, func() {
		if r := p.Probe(ctx); !r.Success || r.DNS.Answer != 2 {
			b.Fatalf("probe failed: %v", r.Err)
		}
	})
}

// BenchmarkBaselineExchangeUDP does per run what blackbox_exporter's dns prober
// does around its exchange (a new dns.Client and message, Exchange, Unpack),
// without its metrics registry and HTTP handling: a floor for the peer.
func BenchmarkBaselineExchangeUDP(b *testing.B) {
	addr := startChildServer(b)
	measureCPU(b, func() {
		client := &dns.Client{Net: "udp", Timeout: 10 * time.Second}
		msg := new(dns.Msg)
		msg.Id = dns.Id()
		msg.RecursionDesired = true
		msg.Question = []dns.Question{{Name: dns.Fqdn("talk.example.com"), Qtype: dns.TypeA, Qclass: dns.ClassINET}}
		resp, _, err := client.Exchange(msg, addr)
		if err != nil || len(resp.Answer) != 2 {
			b.Fatalf("exchange: %v", err)
		}
	})
}

// measureCPU runs op b.N times, reporting allocations and CPU time per op.
func measureCPU(b *testing.B, op func()) {
	b.ReportAllocs()
	before := processCPU(b)
	for b.Loop() {
		op()
	}
	b.ReportMetric(float64((processCPU(b)-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startChildServer runs this test binary as a DNS server (UDP and TCP on one
// loopback port, answering testZone) and stops it when the benchmark ends.
func startChildServer(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), benchServerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start child dns server: %v", err)
	}
	b.Cleanup(func() {
		_ = stdin.Close() // the child stops at EOF
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("child dns server: %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			b.Error("child dns server did not stop within 10s")
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case s := <-line:
		addr, ok := strings.CutPrefix(strings.TrimSpace(s), "listening ")
		if !ok {
			b.Fatalf("child dns server said %q", s)
		}
		return addr
	case <-time.After(10 * time.Second):
		b.Fatal("child dns server did not start within 10s")
		return ""
	}
}

func init() { childServer = runChildServer }

// runChildServer is the child side of startChildServer: it serves until its
// standard input closes.
func runChildServer() int {
	l, pc, err := listenSamePortErr()
	if err != nil {
		fmt.Fprintln(os.Stderr, "child dns server:", err)
		return 1
	}
	srv := &testServer{reply: testZone().reply, addr: l.Addr().String()}
	udp := &dns.Server{PacketConn: pc, Handler: srv}
	tcp := &dns.Server{Listener: l, Handler: srv}
	errs := make(chan error, 2)
	for _, s := range []*dns.Server{udp, tcp} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go func() { errs <- s.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-errs:
			fmt.Fprintln(os.Stderr, "child dns server:", err)
			return 1
		}
	}
	fmt.Println("listening", srv.addr)
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = udp.Shutdown()
	_ = tcp.Shutdown()
	return 0
}
