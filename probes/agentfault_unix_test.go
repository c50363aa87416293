//go:build unix

package probes

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// emfileChildEnv, when set to a URL, makes TestAgentFaultFromRealEMFILE the
// child: it lowers its own file limit and fetches the URL until the kernel
// says EMFILE, then prints what AgentFault makes of the client's error.
const emfileChildEnv = "VIGIL_PROBES_EMFILE_CHILD"

// TestAgentFaultFromRealEMFILE runs out of file descriptors for real (in a
// child process: the limit is process-wide) against a loopback server, as
// 244 idle connections did to the agent in issue 14, and checks that the
// HTTP client's error is classified as the agent's.
func TestAgentFaultFromRealEMFILE(t *testing.T) {
	if target := os.Getenv(emfileChildEnv); target != "" {
		emfileChild(target)
		return
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAgentFaultFromRealEMFILE$", "-test.v")
	cmd.Env = append(os.Environ(), emfileChildEnv+"="+srv.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	text := string(out)
	if !strings.Contains(text, "agent fault: \"too many open files\"") {
		t.Fatalf("child output lacks the classified EMFILE:\n%s", text)
	}
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, "error: ") {
			t.Logf("the child's real error: %s", strings.TrimPrefix(strings.TrimSpace(line), "error: "))
		}
	}
}

func emfileChild(target string) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Println("getrlimit:", err)
		os.Exit(1)
	}
	lim.Cur = 64
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Println("setrlimit:", err)
		os.Exit(1)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	var bodies []*http.Response
	for range 200 { // a response whose body is not closed keeps its connection busy
		resp, err := client.Get(target)
		if err != nil {
			fmt.Printf("error: %v\nagent fault: %q\n", err, AgentFault(err))
			return
		}
		bodies = append(bodies, resp)
	}
	fmt.Printf("no error after %d connections\n", len(bodies))
}
