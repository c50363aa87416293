package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDemoUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--speed=0"}, "--speed must be a positive number, got 0"},
		{[]string{"--speed=-2"}, "--speed must be a positive number, got -2"},
		{[]string{"--speed=fast"}, `invalid value "fast" for flag -speed`},
		{[]string{"pangyo"}, `unexpected argument "pangyo"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(vigilBin, append([]string{"demo"}, tt.args...)...)
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != exitUsage || !strings.Contains(string(out), tt.want) {
				t.Fatalf("vigil demo %s: exit %d, output:\n%s\nwant exit %d with %q", strings.Join(tt.args, " "), code, out, exitUsage, tt.want)
			}
		})
	}
}

// TestDemoStartsAndStopsOnSIGINT runs `vigil demo` fast, waits until it
// printed where to look and the script began, asks both agents' APIs, then
// interrupts it: exit 0, with the SLA history left for `vigil report`.
func TestDemoStartsAndStopsOnSIGINT(t *testing.T) {
	storage := t.TempDir()
	cmd := exec.Command(vigilBin, "demo", "--speed=20", "--web.listen-address=127.0.0.1:0", "--storage.path="+storage)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 256)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
		close(lines)
		exited <- cmd.Wait() // after the last read, as os/exec asks
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	statusPage := regexp.MustCompile(`^  status page  (http://127\.0\.0\.1:\d+)/$`)
	var urls []string
	var out strings.Builder
	deadline := time.After(30 * time.Second)
	for began := false; len(urls) < 2 || !began; {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("vigil demo ended early: stdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
			}
			out.WriteString(line + "\n")
			if m := statusPage.FindStringSubmatch(line); m != nil {
				urls = append(urls, m[1])
			}
			began = began || strings.Contains(line, "15:13  a calm Saturday afternoon")
		case <-deadline:
			t.Fatalf("no URLs and first beat within 30s: stdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
		}
	}
	for _, want := range []string{"/api/v1/incidents", "/bulletin", "/metrics",
		"vigil report --storage.path=" + filepath.Join(storage, "kr-central-1"),
		"vigil report --storage.path=" + filepath.Join(storage, "kr-south-1")} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("guide lacks %q:\n%s", want, out.String())
		}
	}
	for i, want := range []int{24, 7} { // kr-central-1 watches everything, kr-south-1 a part
		resp, err := http.Get(urls[i] + "/api/v1/features")
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Features []json.RawMessage }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || len(body.Features) != want {
			t.Errorf("%s/api/v1/features: %d features (%v), want %d", urls[i], len(body.Features), err, want)
		}
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	go func() { // keep draining so the demo never blocks on a full pipe
		for range lines {
		}
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("vigil demo after SIGINT: %v (exit %d)\nstderr:\n%s", err, cmd.ProcessState.ExitCode(), stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("vigil demo did not stop within 30s of SIGINT")
	}

	report := exec.Command(vigilBin, "report", "--storage.path="+filepath.Join(storage, "kr-central-1"), "--from=1h")
	rep, err := report.CombinedOutput()
	if err != nil || !strings.Contains(string(rep), "message-send-receive") {
		t.Errorf("vigil report on the demo's history: %v\n%s", err, rep)
	}
}
