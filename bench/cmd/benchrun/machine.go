package main

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine describes where the run happened.
type machine struct {
	CPUModel  string
	CPUs      int
	MemTotal  string
	Kernel    string
	GoVersion string
	Vigil     string
	Blackbox  string
	LoadStart string
	// Stalls is what a thread that only reads the clock saw for
	// stallWindow at the start, before any load: how often the machine
	// itself (the hypervisor, other tenants) stopped it.
	Stalls stalls
}

// stalls are the gaps over stallMin between two clock reads of a spinning
// thread.
type stalls struct {
	Count   int
	Longest time.Duration
}

const (
	stallWindow = 2 * time.Second
	stallMin    = time.Millisecond
)

// measureStalls spins on one locked thread for window, reading the clock.
// No prober can time a run more finely than the machine lets a thread run:
// each gap is a moment when the thread (alone, on an idle machine) was not
// running.
func measureStalls(window time.Duration) stalls {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return countStalls(window, time.Now)
}

// countStalls reads now until window has passed and counts the gaps.
func countStalls(window time.Duration, now func() time.Time) stalls {
	var s stalls
	prev := now()
	for end := prev.Add(window); prev.Before(end); {
		t := now()
		if gap := t.Sub(prev); gap > stallMin {
			s.Count++
			s.Longest = max(s.Longest, gap)
		}
		prev = t
	}
	return s
}

func readMachine(vigilBin, blackboxBin string) machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadStart: loadAverage()}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	m.MemTotal = procField("/proc/meminfo", "MemTotal")
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Vigil = firstLine(exec.Command(vigilBin, "version"))
	m.Blackbox = firstLine(exec.Command(blackboxBin, "--version"))
	m.Stalls = measureStalls(stallWindow)
	return m
}

// procField is the value of the first "key: value" line with key in file.
func procField(file, key string) string {
	f, err := os.Open(file)
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func firstLine(cmd *exec.Cmd) string {
	out, err := cmd.CombinedOutput()
	if err != nil && len(out) == 0 {
		return "? (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// loadAverage is the 1, 5 and 15 minute load average.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
