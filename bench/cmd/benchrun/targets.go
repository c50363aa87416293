package main

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// The bulk HTTP target listens on httpHosts consecutive loopback addresses
// from 127.0.0.httpFirstHost (127.0.0.2-9), with as many ports on each as the
// plan's highest rate needs; the 50 ms target has 127.0.0.10 to itself.
const (
	httpFirstHost = 2
	httpHosts     = 8
	// minPortsPerHost is the layout of every run before issue 22 (32
	// listeners): kept up to the rate it serves, so that earlier figures
	// stay comparable.
	minPortsPerHost = 4
	// defaultPairRate is the most new connections a second the plan lets
	// fall on one address/port pair. Each connection leaves a socket in
	// TIME_WAIT for 60 s; at 5,000 a second over 32 pairs that is 9,400 per
	// pair, a third of the 28,000 ephemeral ports, and the kernel's table of
	// them (net.ipv4.tcp_max_tw_buckets) fills: the loopback, not the prober,
	// would be measured.
	defaultPairRate = 150
)

// portsPerHost is how many ports each of the hosts addresses needs so that
// rate new connections a second spread evenly over them put at most pairRate
// on any address/port pair; never fewer than minPortsPerHost.
func portsPerHost(rate, pairRate float64, hosts int) int {
	if pairRate <= 0 || hosts <= 0 {
		return minPortsPerHost
	}
	return max(minPortsPerHost, int(math.Ceil(rate/pairRate/float64(hosts))))
}

// hostRange is one target process's share of the addresses.
type hostRange struct{ First, Count int }

// splitHosts divides count addresses from first among procs processes, as
// evenly as they go, the first processes taking one more when they do not
// divide.
func splitHosts(first, count, procs int) ([]hostRange, error) {
	if procs < 1 || procs > count {
		return nil, fmt.Errorf("%d target processes for %d addresses: want 1 to %d", procs, count, count)
	}
	out := make([]hostRange, procs)
	for i := range out {
		n := count / procs
		if i < count%procs {
			n++
		}
		out[i] = hostRange{First: first, Count: n}
		first += n
	}
	return out, nil
}

// maxHTTPRate is the most HTTP (and TCP connect) probes a second any part of
// the plan asks of the bulk target.
func (p plan) maxHTTPRate() float64 {
	perSecond := func(n int, every time.Duration) float64 {
		if every <= 0 {
			return 0
		}
		return float64(n) / every.Seconds()
	}
	fidelity := perSecond(p.Fidelity, p.FidelityInterval)
	var r float64
	if p.Parts["http"] {
		for _, n := range p.HTTPChecks {
			r = max(r, perSecond(n, p.Interval)+fidelity)
		}
	}
	if p.Parts["sizing"] {
		for _, n := range p.SizingChecks {
			r = max(r, perSecond(n, p.Interval))
		}
	}
	if p.Parts["tcp"] {
		r = max(r, perSecond(p.ConnectChecks, p.ConnectInterval))
	}
	return r
}

// startHTTPTargets starts the bulk HTTP target as o.Procs processes sharing
// the addresses, each address with enough ports for the plan's highest rate.
// It returns the processes and every address they serve, in order.
func (h *harness) startHTTPTargets(o targetOptions) ([]*proc, []string, error) {
	procs := o.Procs
	ranges, err := splitHosts(httpFirstHost, httpHosts, procs)
	if err != nil {
		return nil, nil, err
	}
	ports := portsPerHost(h.plan.maxHTTPRate(), o.PairRate, httpHosts)
	var started []*proc
	var addrs []string
	for i, r := range ranges {
		name := "target"
		if procs > 1 {
			name = "target" + strconv.Itoa(i+1)
		}
		args := []string{"-first-host=" + strconv.Itoa(r.First), "-hosts=" + strconv.Itoa(r.Count), "-ports=" + strconv.Itoa(ports)}
		if o.Raw {
			args = append(args, "-raw")
		}
		p, a, err := startTarget(name, h.work, h.targetBin, args...)
		if err != nil {
			for _, s := range started {
				_ = s.stop(10 * time.Second)
			}
			return nil, nil, err
		}
		started = append(started, p)
		addrs = append(addrs, a...)
	}
	return started, addrs, nil
}
