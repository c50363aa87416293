// Package procstat reads a process's CPU time and memory from /proc, the way
// the harness measures every process it compares (Vigil, blackbox_exporter,
// the floor loop) from the outside.
package procstat

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It
// is 100 on every Linux architecture Go supports (the kernel hides its own HZ).
const clockTicks = 100

// Sample is one reading of a process.
type Sample struct {
	At time.Time
	// CPU is user plus system time since the process started.
	CPU time.Duration
	// RSS is VmRSS, HWM is VmHWM (peak RSS), in bytes; RSS is RssAnon (heap,
	// stacks) plus RssFile (the binary's pages, mapped files) plus RssShmem.
	RSS, HWM         int64
	RSSAnon, RSSFile int64
	Threads          int
}

// Read samples process pid.
func Read(pid int) (Sample, error) {
	s := Sample{At: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read cpu of pid %d: %w", pid, err)
	}
	if s.CPU, err = parseStat(stat); err != nil {
		return s, fmt.Errorf("read cpu of pid %d: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	if err := parseStatus(status, &s); err != nil {
		return s, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	return s, nil
}

// parseStat returns utime+stime from the text of /proc/<pid>/stat. The command
// name (field 2) may hold spaces and parentheses, so fields are counted from
// the last ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat %q: no command name", b)
	}
	// After ") " come fields 3 (state), 4, ...: utime is field 14, stime 15.
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command name, want at least 13", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: utime/stime %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// parseStatus fills RSS, HWM and Threads from /proc/<pid>/status.
func parseStatus(b []byte, s *Sample) error {
	var seen int
	for line := range strings.Lines(string(b)) {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		var threads bool
		switch key {
		case "VmRSS":
			dst = &s.RSS
		case "VmHWM":
			dst = &s.HWM
		case "RssAnon":
			dst = &s.RSSAnon
			seen-- // optional: not every kernel has them
		case "RssFile":
			dst = &s.RSSFile
			seen--
		case "Threads":
			threads = true
		default:
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			return fmt.Errorf("status: %s has no value", key)
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return fmt.Errorf("status: %s %q: %w", key, fields[0], err)
		}
		seen++
		if threads {
			s.Threads = int(n)
			continue
		}
		if len(fields) < 2 || fields[1] != "kB" {
			return fmt.Errorf("status: %s %q is not in kB", key, value)
		}
		*dst = n << 10
	}
	if seen < 3 {
		return fmt.Errorf("status: VmRSS, VmHWM or Threads missing")
	}
	return nil
}

// Self is the CPU time of the calling process (user plus system), from
// /proc/self/stat.
func Self() (time.Duration, error) {
	s, err := Read(os.Getpid())
	return s.CPU, err
}
