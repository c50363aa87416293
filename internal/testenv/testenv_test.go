package testenv

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// recorder stands in for a test: it records a skip or a failure instead of
// ending the goroutine.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skip(args ...any)                  { r.skipped = fmt.Sprint(args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestMissingComponentSkipsLoudlyOrFailsUnderCI(t *testing.T) {
	addr := closedAddr(t)
	missing := map[string]func(r *recorder){
		"Need":     func(r *recorder) { Need(r, "broker %s down", "x") },
		"NeedTool": func(r *recorder) { NeedTool(r, "vigil-no-such-tool", "vigil-pkg") },
		"NeedTCP":  func(r *recorder) { NeedTCP(r, addr, "NATS") },
	}
	want := map[string]string{
		"Need":     "broker x down",
		"NeedTool": "vigil-no-such-tool not found (apt-get install vigil-pkg)",
		"NeedTCP":  "NATS not reachable at " + addr,
	}
	for name, call := range missing {
		for _, ci := range []string{"", "false", "true"} {
			t.Run(name+" CI="+ci, func(t *testing.T) {
				t.Setenv("CI", ci)
				r := &recorder{TB: t}
				call(r)
				if ci == "true" {
					if r.skipped != "" || !strings.HasPrefix(r.failed, "MISSING (CI=true needs it): "+want[name]) {
						t.Errorf("skipped %q, failed %q; want a failure saying %q", r.skipped, r.failed, want[name])
					}
					return
				}
				if r.failed != "" || !strings.HasPrefix(r.skipped, "SKIPPING: "+want[name]) {
					t.Errorf("skipped %q, failed %q; want a skip saying %q", r.skipped, r.failed, want[name])
				}
			})
		}
	}
}

func TestPresentComponentPasses(t *testing.T) {
	t.Setenv("CI", "true")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := &recorder{TB: t}
	NeedTCP(r, l.Addr().String(), "a listener")
	if path := NeedTool(r, "go", "golang"); path == "" {
		t.Error("NeedTool(go) returned no path")
	}
	if r.skipped != "" || r.failed != "" {
		t.Errorf("skipped %q, failed %q with everything there", r.skipped, r.failed)
	}
}

func TestPoll(t *testing.T) {
	calls := 0
	if !Poll(time.Second, func() bool { calls++; return calls == 4 }) || calls != 4 {
		t.Errorf("Poll stopped after %d looks, want true at the 4th", calls)
	}
	begin := time.Now()
	calls = 0
	if Poll(50*time.Millisecond, func() bool { calls++; return false }) {
		t.Error("Poll of a false condition returned true")
	}
	if took := time.Since(begin); took < 50*time.Millisecond || took > 2*time.Second {
		t.Errorf("Poll with a 50ms limit took %v", took)
	}
	// 1, 2, 4, 8, 16 ms waits fit in 50 ms: the first look, five more and the last.
	if calls < 5 || calls > 10 {
		t.Errorf("%d looks in 50ms, want a handful (backing off)", calls)
	}
}

func TestWaitForFailsNamingWhat(t *testing.T) {
	r := &recorder{TB: t}
	WaitFor(r, 10*time.Millisecond, "the moon", func() bool { return false })
	if r.failed != "timed out after 10ms waiting for the moon" {
		t.Errorf("failure %q", r.failed)
	}
	r = &recorder{TB: t}
	WaitFor(r, time.Second, "now", func() bool { return true })
	if r.failed != "" {
		t.Errorf("failure %q for a condition that holds", r.failed)
	}
}
