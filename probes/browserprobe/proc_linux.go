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

// killProfileUsers kills every process whose command line has a
// --user-data-dir under dir (Chromium passes the flag to all its children),
// looking again until a few looks in a row find none, for at most two
// seconds: a child can fork just as its parent dies and show up late.
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

// profileProcesses lists the processes whose command line has a
// --user-data-dir=dir or a directory under dir: the browser processes using
// that profile, or any profile of a pool when dir is its ProfilePrefix. A
// zombie (already dead, waiting for its parent) has an empty command line and
// is not listed.
func profileProcesses(dir string) []int {
	dir = strings.TrimSuffix(dir, "/")
	exact := []byte("--user-data-dir=" + dir)
	under := []byte("--user-data-dir=" + dir + "/")
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
		for arg := range bytes.SplitSeq(cmdline, []byte{0}) {
			if bytes.Equal(arg, exact) || bytes.HasPrefix(arg, under) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}
