package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/vigil-monitoring/vigil/bench/internal/target"
)

// proc is a child process of the harness. Every child is in its own process
// group and gets SIGKILL if the harness dies (Pdeathsig), and the harness
// stops every child it started before it exits, on failure too.
type proc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	log   *os.File
	done  chan struct{}
	err   error
}

// children are the running children, for stopAll.
var children struct {
	sync.Mutex
	list []*proc
}

// start runs bin with args, its stderr (and stdout unless captured) going to
// logDir/name.log.
func start(name, logDir, bin string, args ...string) (*proc, error) {
	return startCapture(name, logDir, nil, bin, args...)
}

// startCapture is start with stdout sent to stdout when it is not nil.
func startCapture(name, logDir string, stdout io.Writer, bin string, args ...string) (*proc, error) {
	logFile, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logFile
	cmd.Stdout = logFile
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &proc{name: name, cmd: cmd, stdin: stdin, log: logFile, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	children.Lock()
	children.list = append(children.list, p)
	children.Unlock()
	return p, nil
}

// pid is the child's process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the child has ended, with its error.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop asks the child to end (stdin closed, SIGTERM), waits up to grace, then
// kills its process group.
func (p *proc) stop(grace time.Duration) error {
	_ = p.stdin.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	var err error
	select {
	case <-p.done:
	case <-timer.C:
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.done
		err = fmt.Errorf("%s (pid %d) did not stop within %v: killed", p.name, p.pid(), grace)
	}
	children.Lock()
	for i, c := range children.list {
		if c == p {
			children.list = append(children.list[:i], children.list[i+1:]...)
			break
		}
	}
	children.Unlock()
	return err
}

// stopAll stops every child still running.
func stopAll() {
	children.Lock()
	list := append([]*proc(nil), children.list...)
	children.Unlock()
	for _, p := range list {
		_ = p.stop(5 * time.Second)
	}
}

// startTarget runs a target program (target or dnstarget) and reads the
// addresses it announces.
func startTarget(name, logDir, bin string, args ...string) (*proc, []string, error) {
	r, w := io.Pipe()
	p, err := startCapture(name, logDir, w, bin, args...)
	if err != nil {
		return nil, nil, err
	}
	type announced struct {
		a   target.Announcement
		err error
	}
	ch := make(chan announced, 1)
	go func() {
		br := bufio.NewReader(r)
		line, err := br.ReadBytes('\n')
		var a target.Announcement
		if err == nil {
			err = json.Unmarshal(line, &a)
		}
		ch <- announced{a, err}
		_, _ = io.Copy(io.Discard, br) // keep the pipe drained until the child ends
	}()
	go func() {
		<-p.done
		w.Close()
	}()
	select {
	case got := <-ch:
		if got.err != nil || len(got.a.Addrs) == 0 {
			_ = p.stop(5 * time.Second)
			return nil, nil, fmt.Errorf("%s: no address announced (see %s.log): %v", name, name, got.err)
		}
		return p, got.a.Addrs, nil
	case <-time.After(20 * time.Second):
		_ = p.stop(5 * time.Second)
		return nil, nil, fmt.Errorf("%s: no address announced within 20s", name)
	}
}

// freePort returns a loopback address with a port free right now, for
// programs that take a listen address rather than report one.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// errStopped is returned when the harness was interrupted.
var errStopped = errors.New("interrupted")
