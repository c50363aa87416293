// Command floor is the cost floor of a probe: a bare loop that does only what
// one probe must, paced at the rate the agent runs probes, and prints the CPU
// it used per probe as JSON (with -record, each probe's duration too: a bare
// client's view of the 50 ms target, next to the probers'). In http mode each probe dials, writes one
// request, reads the answer to EOF and closes; in dns mode it opens a UDP
// socket, sends one packed A query, reads one answer and closes. Nothing else:
// no parsing, no timing, no metrics.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// Report is what floor prints.
type Report struct {
	Mode        string  `json:"mode"`
	Probes      int     `json:"probes"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	WallSeconds float64 `json:"wall_seconds"`
	// Behind is how far the pacing fell behind at the end, in seconds.
	Behind float64 `json:"behind_seconds"`
	// Durations are the wall times of the successful probes, in seconds,
	// with -record: a bare client's view of a target, next to a prober's.
	Durations []float64 `json:"durations,omitempty"`
}

func main() {
	mode := flag.String("mode", "http", "http or dns")
	targets := flag.String("targets", "", "comma-separated host:port list, used round-robin")
	path := flag.String("path", "/", "http request path")
	rate := flag.Float64("rate", 1000, "probes per second; 0 runs back to back")
	duration := flag.Duration("duration", 10*time.Second, "how long to run (at most 10m)")
	record := flag.Bool("record", false, "report each successful probe's duration")
	flag.Parse()
	rep, err := run(*mode, strings.Split(*targets, ","), *path, *rate, *duration, *record)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(rep)
}

func run(mode string, targets []string, path string, rate float64, duration time.Duration, record bool) (Report, error) {
	rep := Report{Mode: mode}
	if len(targets) == 0 || targets[0] == "" {
		return rep, errors.New("-targets: none given")
	}
	if duration <= 0 || duration > 10*time.Minute {
		return rep, fmt.Errorf("-duration %v: want 0 < d <= 10m", duration)
	}
	probes := make([]func() error, len(targets))
	for i, t := range targets {
		switch mode {
		case "http":
			probes[i] = httpProbe(t, path)
		case "dns":
			p, err := dnsProbe(t)
			if err != nil {
				return rep, err
			}
			probes[i] = p
		default:
			return rep, fmt.Errorf("-mode %q: want http or dns", mode)
		}
	}
	cpu0 := cpuTime()
	start := time.Now()
	end := start.Add(duration)
	for i := 0; ; i++ {
		if rate > 0 {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if !due.Before(end) {
				break
			}
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait) // pacing: the floor idles between probes as an agent does
			}
		} else if !time.Now().Before(end) {
			break
		}
		began := time.Now()
		if err := probes[i%len(probes)](); err != nil {
			rep.Errors++
			if rep.FirstError == "" {
				rep.FirstError = err.Error()
			}
		} else if record {
			rep.Durations = append(rep.Durations, time.Since(began).Seconds())
		}
		rep.Probes++
	}
	rep.WallSeconds = time.Since(start).Seconds()
	rep.CPUSeconds = (cpuTime() - cpu0).Seconds()
	rep.Behind = max(0, time.Since(end).Seconds())
	return rep, nil
}

// httpProbe dials addr, writes one GET and reads to EOF (the target closes).
func httpProbe(addr, path string) func() error {
	request := []byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n\r\n")
	buf := make([]byte, 4096)
	return func() error {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write(request); err != nil {
			return err
		}
		for {
			if _, err := conn.Read(buf); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}
}

// dnsProbe sends one pre-packed A query over a new UDP socket and reads one
// datagram.
func dnsProbe(addr string) (func() error, error) {
	m := new(dns.Msg)
	m.SetQuestion("talk.example.com.", dns.TypeA)
	query, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack query: %w", err)
	}
	buf := make([]byte, 4096)
	return func() error {
		conn, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write(query); err != nil {
			return err
		}
		_, err = conn.Read(buf)
		return err
	}, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
