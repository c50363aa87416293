package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-monitoring/vigil/bench/internal/procstat"
)

// What else the machine did while a prober was measured: the target
// processes' CPU, the CPU left idle, the sockets in TIME_WAIT. A prober's
// lateness and failures are its own only when the machine had room to spare;
// at 50,000 checks on two cores the targets alone serve 5,000 connections a
// second, and these figures tell a saturated machine from a slow agent.

// aroundSample is one reading of the machine and of the target processes.
type aroundSample struct {
	At time.Time
	// Targets is the CPU (user+system) of every target process so far;
	// Harness the harness's own (it drives blackbox_exporter in-process).
	Targets, Harness time.Duration
	// Idle (idle+iowait), Steal and Total are /proc/stat's ticks over all
	// CPUs since boot.
	Idle, Steal, Total int64
	// TimeWait is the TCP sockets in TIME_WAIT now (/proc/net/sockstat).
	TimeWait int
	// ListenDrops (SYNs and connections a listener dropped, its queue full
	// or no memory) and TimeWaitOverflow (closes that got no TIME_WAIT
	// socket, the kernel's table full) are /proc/net/netstat's TcpExt
	// counters since boot.
	ListenDrops, TimeWaitOverflow int64
}

// aroundWindow is what happened around a prober between two readings.
type aroundWindow struct {
	TargetCPUSeconds  float64
	HarnessCPUSeconds float64
	// IdleShare and StealShare are the shares of all CPUs' time that was
	// idle, and that the hypervisor gave to someone else.
	IdleShare, StealShare float64
	// TimeWait is the sockets in TIME_WAIT at the end of the window.
	TimeWait int
	// ListenDrops and TimeWaitOverflow count over the window: connections
	// the targets' listeners dropped (a target that did not keep up), and
	// closes the kernel kept no TIME_WAIT socket for.
	ListenDrops, TimeWaitOverflow int64
}

// readAround reads the machine and the harness's target processes.
func (h *harness) readAround() (aroundSample, error) {
	s := aroundSample{At: time.Now()}
	for _, t := range h.targets {
		p, err := procstat.Read(t.pid())
		if err != nil {
			return s, fmt.Errorf("target %s: %w", t.name, err)
		}
		s.Targets += p.CPU
	}
	self, err := procstat.Self()
	if err != nil {
		return s, fmt.Errorf("harness: %w", err)
	}
	s.Harness = self
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	if s.Idle, s.Steal, s.Total, err = parseCPULine(stat); err != nil {
		return s, fmt.Errorf("/proc/stat: %w", err)
	}
	sock, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return s, err
	}
	if s.TimeWait, err = parseTimeWait(sock); err != nil {
		return s, fmt.Errorf("/proc/net/sockstat: %w", err)
	}
	netstat, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return s, err
	}
	c, err := parseTcpExt(netstat, "ListenDrops", "TCPTimeWaitOverflow")
	if err != nil {
		return s, fmt.Errorf("/proc/net/netstat: %w", err)
	}
	s.ListenDrops, s.TimeWaitOverflow = c[0], c[1]
	return s, nil
}

// around is the window between a and b.
func around(a, b aroundSample) aroundWindow {
	w := aroundWindow{TargetCPUSeconds: (b.Targets - a.Targets).Seconds(), HarnessCPUSeconds: (b.Harness - a.Harness).Seconds(),
		TimeWait: b.TimeWait, ListenDrops: b.ListenDrops - a.ListenDrops, TimeWaitOverflow: b.TimeWaitOverflow - a.TimeWaitOverflow}
	if total := float64(b.Total - a.Total); total > 0 {
		w.IdleShare = float64(b.Idle-a.Idle) / total
		w.StealShare = float64(b.Steal-a.Steal) / total
	}
	return w
}

// parseCPULine reads the first line of /proc/stat, "cpu user nice system
// idle iowait irq softirq steal guest guest_nice" in ticks over all CPUs.
// Guest time is already inside user and nice, so the total is the first
// eight.
func parseCPULine(b []byte) (idle, steal, total int64, err error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, 0, fmt.Errorf("first line %q is not the cpu line with 8 counters", line)
	}
	var n [8]int64
	for i := range n {
		if n[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return 0, 0, 0, fmt.Errorf("cpu counter %d %q: %w", i+1, f[i+1], err)
		}
		total += n[i]
	}
	return n[3] + n[4], n[7], total, nil
}

// parseTimeWait reads "tw N" from the TCP line of /proc/net/sockstat.
func parseTimeWait(b []byte) (int, error) {
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "TCP:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		for i := 0; i+1 < len(f); i += 2 {
			if f[i] == "tw" {
				n, err := strconv.Atoi(f[i+1])
				if err != nil {
					return 0, fmt.Errorf("TCP tw %q: %w", f[i+1], err)
				}
				return n, nil
			}
		}
		return 0, fmt.Errorf("TCP line %q has no tw", strings.TrimSpace(line))
	}
	return 0, fmt.Errorf("no TCP line")
}

// parseTcpExt reads the named counters from /proc/net/netstat, where each
// group is a line of names ("TcpExt: A B ...") and a line of values.
func parseTcpExt(b []byte, names ...string) ([]int64, error) {
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i++ {
		keys, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(keys) == 0 || keys[0] != "TcpExt:" || len(values) != len(keys) || values[0] != "TcpExt:" {
			continue
		}
		out := make([]int64, len(names))
		for j, name := range names {
			k := slices.Index(keys, name)
			if k < 1 {
				return nil, fmt.Errorf("TcpExt has no %s", name)
			}
			n, err := strconv.ParseInt(values[k], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("TcpExt %s %q: %w", name, values[k], err)
			}
			out[j] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("no TcpExt names and values")
}

// perThousand is seconds per 1,000 runs, 0 when there were none.
func perThousand(seconds float64, runs int64) float64 {
	if runs <= 0 {
		return 0
	}
	return seconds / float64(runs) * 1000
}
