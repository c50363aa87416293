package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigil-monitoring/vigil/bench/internal/target"
)

// childEnv makes the test binary a target server instead of running tests:
// the benchmarks' targets live in a process of their own, so the CPU this
// process measures (and profiles) is the agent's alone.
const childEnv = "VIGIL_BENCH_TARGET"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	// bbolt's freelist goroutine outlives Close by a moment, as in the agent's tests.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.etcd.io/bbolt.(*DB).freepages"))
}

// runChild serves HTTP targets until stdin closes.
func runChild(mode string) int {
	if mode != "http" {
		fmt.Fprintf(os.Stderr, "%s=%q: only http\n", childEnv, mode)
		return 2
	}
	hosts, err := target.Hosts(2, 8)
	if err == nil {
		var s *target.Servers
		if s, err = target.ServeHTTP(hosts, 4); err == nil {
			err = target.RunUntilDone(s, os.Stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "target child:", err)
		return 1
	}
	return 0
}

// startTargets runs this test binary as the HTTP target and returns its
// addresses; the child stops when the benchmark ends.
func startTargets(b *testing.B) []string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), childEnv+"=http")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start target child: %v", err)
	}
	b.Cleanup(func() {
		_ = stdin.Close() // the child stops at EOF
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("target child: %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			b.Error("target child did not stop within 10s")
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
		var a target.Announcement
		if err := json.Unmarshal([]byte(s), &a); err != nil || len(a.Addrs) == 0 {
			b.Fatalf("target child said %q: %v", s, err)
		}
		return a.Addrs
	case <-time.After(10 * time.Second):
		b.Fatal("target child did not start within 10s")
		return nil
	}
}

// served asks the target child how many requests it has served.
func served(b *testing.B, addr string) int64 {
	b.Helper()
	resp, err := http.Get("http://" + addr + target.ServedPath)
	if err != nil {
		b.Fatalf("ask target for its count: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatalf("read target count: %v", err)
	}
	n, err := strconv.ParseInt(string(body), 10, 64)
	if err != nil {
		b.Fatalf("target count %q: %v", body, err)
	}
	return n
}
