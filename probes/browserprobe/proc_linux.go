package browserprobe

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procGroup is the process group of one browser: the browser starts as the
// leader of a new group, so that killing the group ends the zygote, renderer
// and utility processes it forked along with it.
type procGroup struct {
	mu  sync.Mutex
	pid int // the leader's pid, which is the group's id; 0 until known
}

// prepare is chromedp's ModifyCmdFunc: a new process group, and SIGKILL when
// the thread that started it (chromedp locks one per browser) dies with the
// agent.
func (g *procGroup) prepare(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// setPID records the browser's main process once it has started.
func (g *procGroup) setPID(p *os.Process) {
	if p == nil {
		return
	}
	g.mu.Lock()
	g.pid = p.Pid
	g.mu.Unlock()
}

// kill sends SIGKILL to the whole group. The group's id stays reserved while
// any member lives, so it cannot name someone else's processes.
func (g *procGroup) kill() {
	g.mu.Lock()
	pid := g.pid
	g.mu.Unlock()
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

// killProfileUsers kills every process whose command line names dir or a
// path under it (see profileProcesses), looking again until a few looks in a
// row find none, for at most two seconds: a child can fork just as its parent
// dies and show up late.
func killProfileUsers(dir string) {
	const (
		quietLooks = 3
		pause      = 10 * time.Millisecond
		limit      = 2 * time.Second
	)
	deadline := time.Now().Add(limit)
	for quiet := 0; quiet < quietLooks && time.Now().Before(deadline); {
		pids := profileProcesses(dir)
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if len(pids) == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(pause)
	}
}

// profileProcesses lists the processes whose command line names dir or a
// path under it: the browser processes using that profile (Chromium passes
// --user-data-dir to its children, and the crash handler's --database is
// under it too, as the pool points XDG_CONFIG_HOME there), or those of any
// profile of a pool when dir is its ProfilePrefix. The whole command line is
// searched, not its arguments one by one: Chromium's children rewrite theirs
// into one string of space-separated flags. A zombie (dead, waiting for its
// parent) has an empty command line and is not listed.
func profileProcesses(dir string) []int {
	dir = strings.TrimSuffix(dir, "/")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var pids []int
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + entry.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if namesPath(cmdline, dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// namesPath reports whether cmdline holds dir as a whole path or the start
// of one: followed by '/', a space, a NUL or the end ("/p/run-1" is not in
// "/p/run-12").
func namesPath(cmdline []byte, dir string) bool {
	for rest := cmdline; ; {
		i := bytes.Index(rest, []byte(dir))
		if i < 0 {
			return false
		}
		end := i + len(dir)
		if end == len(rest) || rest[end] == '/' || rest[end] == ' ' || rest[end] == 0 {
			return true
		}
		rest = rest[i+1:]
	}
}

// processAlive reports whether a process with this pid exists (a pid
// reused by another program counts as alive: nothing is removed then).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
